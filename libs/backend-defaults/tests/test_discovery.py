"""Discovery resolves plugin URLs as Backstage's HostDiscovery does."""

from __future__ import annotations

from typing import Any

from backstage_backend_defaults.discovery import HostDiscovery
from backstage_common.config import Config


def discovery(**config: Any) -> HostDiscovery:
    backend = {"baseUrl": "https://backstage.example.com/", "listen": {"port": 7007}}
    backend.update(config.pop("backend", {}))
    return HostDiscovery(Config.from_data({"backend": backend, **config}))


async def test_defaults_to_this_backend_on_listen_and_base_url() -> None:
    found = discovery()
    assert await found.get_base_url("catalog") == "http://127.0.0.1:7007/api/catalog"
    assert (
        await found.get_external_base_url("catalog") == "https://backstage.example.com/api/catalog"
    )


async def test_listen_host_forms_map_to_reachable_internal_hosts() -> None:
    assert await discovery(backend={"listen": "0.0.0.0:7100"}).get_base_url("x") == (
        "http://127.0.0.1:7100/api/x"
    )
    assert await discovery(backend={"listen": {"host": "::1", "port": 7101}}).get_base_url("x") == (
        "http://[::1]:7101/api/x"
    )
    assert await discovery(backend={"listen": {"host": "10.1.2.3", "port": 7102}}).get_base_url(
        "x"
    ) == ("http://10.1.2.3:7102/api/x")


async def test_endpoints_with_string_and_split_targets_and_templating() -> None:
    found = discovery(
        discovery={
            "endpoints": [
                {
                    "target": "http://catalog.svc:7007/api/{{pluginId}}",
                    "plugins": ["catalog", "search"],
                },
                {
                    "target": {"internal": "http://scaffolder.svc/api/scaffolder"},
                    "plugins": ["scaffolder"],
                },
                {"target": "http://search.svc/api/{{ pluginId }}/", "plugins": ["search"]},
            ]
        }
    )
    assert await found.get_base_url("catalog") == "http://catalog.svc:7007/api/catalog"
    assert await found.get_external_base_url("catalog") == "http://catalog.svc:7007/api/catalog"
    # a later entry wins, and a trailing slash is dropped
    assert await found.get_base_url("search") == "http://search.svc/api/search"
    # a split target without `external` falls through to the default for that side
    assert await found.get_base_url("scaffolder") == "http://scaffolder.svc/api/scaffolder"
    assert await found.get_external_base_url("scaffolder") == (
        "https://backstage.example.com/api/scaffolder"
    )
    assert await found.get_base_url("other") == "http://127.0.0.1:7007/api/other"


async def test_a_wildcard_entry_catches_plugins_without_their_own() -> None:
    found = discovery(
        discovery={
            "endpoints": [
                {"target": "http://main.svc/api/{{pluginId}}", "plugins": ["*"]},
                {"target": "http://catalog.svc/api/catalog", "plugins": ["catalog"]},
            ]
        }
    )
    assert await found.get_base_url("catalog") == "http://catalog.svc/api/catalog"
    assert await found.get_base_url("todo list") == "http://main.svc/api/todo%20list"


def test_listen_forms_are_read_as_backstage_reads_them() -> None:
    from backstage_backend_defaults.http_router import read_listen_options

    def listen(value: object) -> tuple[str, int]:
        options = read_listen_options(Config.from_data({"backend": {"listen": value}}))
        return options.host, options.port

    assert listen("7010") == ("0.0.0.0", 7010)
    assert listen(7011) == ("0.0.0.0", 7011)
    assert listen("127.0.0.1:7012") == ("127.0.0.1", 7012)
    assert listen({"host": "::1", "port": "7013"}) == ("::1", 7013)
    assert listen({}) == ("0.0.0.0", 7007)
    assert read_listen_options(Config.from_data({})).port == 7007
    import pytest
    from backstage_common.errors import InputError

    with pytest.raises(InputError, match=r"Invalid port 70000 in 'backend.listen'"):
        listen("70000")
