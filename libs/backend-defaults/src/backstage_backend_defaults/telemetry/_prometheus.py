"""The Prometheus endpoint: `/metrics` on a port of its own, only when configured.

Config `backend.metrics.prometheus`: `enabled` (false), `port` (9464, OpenTelemetry's
default for Prometheus; 0 picks a free one), `host` (the backend's listen host). The port
serves nothing but the metrics, so no plugin route and no auth policy is involved; it is
open only where an operator enabled it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backstage_backend_plugin_api import RootConfigService
from backstage_common.errors import InputError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

__all__ = ["PrometheusEndpoint", "PrometheusSettings", "read_prometheus_settings"]


@dataclass(frozen=True)
class PrometheusSettings:
    host: str
    port: int


def read_prometheus_settings(
    config: RootConfigService, default_host: str
) -> PrometheusSettings | None:
    """The endpoint's settings, or None when `backend.metrics.prometheus.enabled` is not true."""
    if not config.get_optional_boolean("backend.metrics.prometheus.enabled"):
        return None
    key = "backend.metrics.prometheus.port"
    raw = config.get_optional(key)
    try:
        port = 9464 if raw is None else int(str(raw))
    except ValueError:
        raise InputError(f"Invalid port '{raw}' in '{key}'") from None
    if not 0 <= port < 65536:
        raise InputError(f"Invalid port {port} in '{key}', it must be between 0 and 65535")
    host = config.get_optional_string("backend.metrics.prometheus.host") or default_host
    return PrometheusSettings(host=host, port=port)


class PrometheusEndpoint:
    """A metric reader with a registry of its own, served by prometheus-client's server."""

    def __init__(self, settings: PrometheusSettings) -> None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry

        self._settings = settings
        self.registry = CollectorRegistry(auto_describe=True)
        self.reader = PrometheusMetricReader(registry=self.registry)
        self._server: WSGIServer | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one picked when configured as 0)."""
        if self._server is None:
            return self._settings.port
        return int(self._server.server_port)

    def start(self) -> None:
        from prometheus_client import start_http_server

        try:
            server, _thread = start_http_server(
                self._settings.port, addr=self._settings.host, registry=self.registry
            )
        except OSError as error:
            raise InputError(
                f"Could not serve metrics on {self._settings.host}:{self._settings.port}: {error}"
            ) from error
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()
