"""The development config keeps permissions off, and its commented example of the config
policy is a valid policy that decides as its comments say."""

from __future__ import annotations

from pathlib import Path

import yaml
from backstage_plugin_permission_backend import read_config_policy
from backstage_plugin_permission_common import (
    AuthorizeResult,
    ConditionalPolicyDecision,
    create_permission,
)
from backstage_plugin_permission_node import PolicyQuery, PolicyQueryUser

APP_CONFIG = Path(__file__).resolve().parents[2] / "app-config.yaml"


def commented_policy() -> object:
    lines = APP_CONFIG.read_text().splitlines()
    start = lines.index("  # policy:")
    block = []
    for line in lines[start:]:
        if not line.startswith("  #"):
            break
        block.append(line.replace("  # ", "  ", 1).split("  #", 1)[0].rstrip())
    return yaml.safe_load("\n".join(block))["policy"]


def test_permissions_are_off_in_development() -> None:
    config = yaml.safe_load(APP_CONFIG.read_text())
    assert config["permission"] == {"enabled": False}


async def test_the_commented_example_is_a_valid_policy() -> None:
    policy = read_config_policy(commented_policy())
    platform = PolicyQueryUser("user:default/jane", ("user:default/jane", "group:default/platform"))
    other = PolicyQueryUser("user:default/bob", ("user:default/bob",))
    create = create_permission("catalog.location.create", action="create")
    read = create_permission("catalog.entity.read", action="read", resource_type="catalog-entity")
    assert (await policy.handle(PolicyQuery(create), platform)).result is AuthorizeResult.ALLOW
    assert (await policy.handle(PolicyQuery(create), other)).result is AuthorizeResult.DENY
    decision = await policy.handle(PolicyQuery(read), other)
    assert isinstance(decision, ConditionalPolicyDecision)
    assert decision.plugin_id == "catalog"
