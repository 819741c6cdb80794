"""mypy checks what a plugin receives: a misuse of an injected service is a type error."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mypy import api

PLUGIN = """
from backstage_backend_plugin_api import core_services as core


async def init(logger: core.Logger, discovery: core.Discovery, cache: core.Cache) -> None:
    url: str = await discovery.get_base_url("catalog")
    logger.info("found", {"url": url})
    await cache.set("key", {"value": 1})
    {misuse}
"""


def check(source: str, tmp_path: Path) -> tuple[str, int]:
    path = tmp_path / "plugin.py"
    path.write_text(source)
    # one cache for the module's runs: the second run reuses what the first one learnt
    cache = Path(tempfile.gettempdir()) / "backstage-py-typing-test-mypy-cache"
    stdout, _, status = api.run(["--strict", "--cache-dir", str(cache), str(path)])
    return stdout, status


def test_correct_use_type_checks(tmp_path: Path) -> None:
    stdout, status = check(PLUGIN.replace("{misuse}", "pass"), tmp_path)
    assert status == 0, stdout


def test_misuse_of_injected_services_is_reported(tmp_path: Path) -> None:
    stdout, status = check(
        PLUGIN.replace(
            "{misuse}", 'logger.infoo("typo")\n    n: int = await discovery.get_base_url(1)'
        ),
        tmp_path,
    )
    assert status == 1
    assert '"LoggerService" has no attribute "infoo"' in stdout
    assert (
        'Argument 1 to "get_base_url" of "DiscoveryService" has incompatible type "int"' in stdout
    )
    assert (
        'Incompatible types in assignment (expression has type "str", variable has type "int")'
        in stdout
    )
