"""The events plugin's config: webhook secrets are secrets, GitHub App webhook secrets open
topic `github` too, and a bad notify timeout stops the start."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from backstage_backend_test_utils import start_test_backend
from backstage_common.config import Config, ConfigSchema
from backstage_plugin_events_backend import events_features, events_plugin


def test_webhook_secrets_are_masked_and_the_keys_known() -> None:
    schema = ConfigSchema.from_entry_points()
    data = {
        "events": {
            "http": {"topics": ["custom"]},
            "notifyTimeoutMs": 1000,
            "useEventBus": "never",
            "modules": {"github": {"webhookSecret": "a"}, "gitlab": {"webhookSecret": "b"}},
        }
    }
    validation = schema.validate(Config.from_data(data))
    assert validation.errors == ()
    assert validation.warnings == ()
    masked = schema.mask_secrets(data)["events"]["modules"]
    assert masked == {
        "github": {"webhookSecret": "<secret>"},
        "gitlab": {"webhookSecret": "<secret>"},
    }


async def test_github_app_webhook_secret_opens_and_verifies_the_github_topic() -> None:
    config = {
        "integrations": {
            "github": [
                {"host": "github.com", "apps": [{"appId": 1, "webhookSecret": "app-secret"}]}
            ]
        }
    }
    async with start_test_backend(features=events_features(), config=config) as test:
        body = b'{"zen": "Design for failure."}'
        signature = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
        headers = {"content-type": "application/json", "x-github-event": "ping"}
        accepted = await test.client.post(
            "/api/events/http/github",
            content=body,
            headers={**headers, "x-hub-signature-256": signature},
        )
        assert accepted.status_code == 202
        refused = await test.client.post(
            "/api/events/http/github",
            content=body,
            headers={**headers, "x-hub-signature-256": "sha256=" + "0" * 64},
        )
        assert refused.status_code == 403


@pytest.mark.parametrize("timeout", [0, -5])
async def test_notify_timeout_must_be_positive(timeout: int) -> None:
    with pytest.raises(Exception, match="notifyTimeoutMs"):
        async with start_test_backend(
            features=[events_plugin()], config={"events": {"notifyTimeoutMs": timeout}}
        ):
            pass
