"""core.discovery: plugin base URLs from `discovery.endpoints`, else this backend's own."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from backstage_backend_plugin_api import RootConfigService, create_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError

from backstage_backend_defaults.http_router import read_listen_options

__all__ = ["HostDiscovery", "discovery_service_factory"]


@dataclass(frozen=True)
class _Endpoint:
    internal: str | None
    external: str | None
    plugins: tuple[str, ...]


def _read_endpoints(config: RootConfigService) -> list[_Endpoint]:
    endpoints = []
    for index, entry in enumerate(config.get_optional_config_array("discovery.endpoints") or []):
        target = entry.get("target")
        internal: str | None
        external: str | None
        if isinstance(target, str):
            internal = external = target
        elif isinstance(target, dict):
            internal = entry.get_optional_string("target.internal")
            external = entry.get_optional_string("target.external")
        else:
            raise InputError(
                f"Invalid discovery.endpoints[{index}].target: use a URL or {{internal, external}}"
            )
        endpoints.append(_Endpoint(internal, external, tuple(entry.get_string_array("plugins"))))
    return endpoints


def _internal_fallback(config: RootConfigService) -> str:
    listen = read_listen_options(config)
    host = {"": "localhost", "::": "localhost", "0.0.0.0": "127.0.0.1"}.get(
        listen.host, listen.host
    )
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if config.get_optional("backend.https") else "http"
    return f"{scheme}://{host}:{listen.port}/api/{{{{pluginId}}}}"


def _expand(template: str, plugin_id: str) -> str:
    encoded = quote(plugin_id, safe="")
    return template.replace("{{pluginId}}", encoded).replace("{{ pluginId }}", encoded)


class HostDiscovery:
    """Resolves a plugin's URLs: its own entry (later entries win), then `'*'`, then this host."""

    def __init__(self, config: RootConfigService) -> None:
        self._endpoints = _read_endpoints(config)
        self._internal_default = _internal_fallback(config)
        self._external_default = config.get_string("backend.baseUrl").rstrip("/") + (
            "/api/{{pluginId}}"
        )

    def _resolve(self, plugin_id: str, side: str, default: str) -> str:
        for wanted in (plugin_id, "*"):
            for endpoint in reversed(self._endpoints):
                target = endpoint.internal if side == "internal" else endpoint.external
                if target is not None and wanted in endpoint.plugins:
                    return _expand(target, plugin_id).rstrip("/")
        return _expand(default, plugin_id)

    async def get_base_url(self, plugin_id: str) -> str:
        return self._resolve(plugin_id, "internal", self._internal_default)

    async def get_external_base_url(self, plugin_id: str) -> str:
        return self._resolve(plugin_id, "external", self._external_default)


def _create_root_discovery(config: core.RootConfig) -> HostDiscovery:
    return HostDiscovery(config)


def _discovery_for_plugin(discovery: HostDiscovery) -> HostDiscovery:
    return discovery


discovery_service_factory = create_service_factory(
    service=core.discovery,
    factory=_discovery_for_plugin,
    create_root_context=_create_root_discovery,
)
