"""`start_test_backend`: a real backend on a free local port, with mock auth, for tests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from backstage_backend_defaults import Backend, BackendFeature, default_service_factories
from backstage_backend_defaults.http_router import read_listen_options
from backstage_backend_plugin_api import ExtensionPoint, ServiceFactory, ServiceRef
from backstage_common.config import Config

from backstage_backend_test_utils._auth import mock_auth_factory, mock_http_auth_factory
from backstage_backend_test_utils._cache import mock_cache_factory
from backstage_backend_test_utils._config import deep_merge
from backstage_backend_test_utils._database import mock_database_factory
from backstage_backend_test_utils._features import extension_point_modules, orphan_module_plugins
from backstage_backend_test_utils._scheduler import mock_scheduler_factory

__all__ = ["TestBackend", "service_factories_for_tests", "start_test_backend"]

T = TypeVar("T")
_HOST = "127.0.0.1"
_START_ATTEMPTS = 3


@dataclass(frozen=True)
class TestBackend:
    """A started backend, where to reach it, and an HTTP client bound to it."""

    __test__ = False  # not a pytest test class

    backend: Backend
    base_url: str
    """`http://127.0.0.1:<port>`, the backend's own address."""
    client: httpx.AsyncClient = field(repr=False)
    """An `httpx.AsyncClient` with `base_url`; closed when the backend stops."""
    config: Mapping[str, Any] = field(repr=False)
    """The config data the backend runs with (defaults merged with the caller's)."""

    async def get_service(self, ref: ServiceRef[T], plugin_id: str | None = None) -> T:
        """A service of the backend; root services take no `plugin_id`."""
        return await self.backend.get_service(ref, plugin_id)


def service_factories_for_tests(
    config_data: Mapping[str, Any] | None = None,
) -> list[ServiceFactory[Any]]:
    """backend-defaults' factories, with mock `auth`, `httpAuth` and `scheduler`.

    `cache` and `database` are the in-memory fakes where backend-defaults has no factory.
    """
    replaced: list[ServiceFactory[Any]] = [
        mock_auth_factory(),
        mock_http_auth_factory(),
        mock_scheduler_factory(),
    ]
    replaced_ids = {factory.service.id for factory in replaced}
    defaults = [
        factory
        for factory in default_service_factories(config_data=config_data)
        if factory.service.id not in replaced_ids
    ]
    present = {factory.service.id for factory in defaults}
    fallbacks = [
        factory
        for factory in (mock_cache_factory(), mock_database_factory())
        if factory.service.id not in present
    ]
    return [*defaults, *replaced, *fallbacks]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _config_data(port: int, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "backend": {
            "baseUrl": f"http://{_HOST}:{port}",
            "listen": {"host": _HOST, "port": port},
            "logging": {"level": "warn"},
        }
    }
    return deep_merge(defaults, overrides or {})


def _local_url(data: Mapping[str, Any]) -> str:
    listen = read_listen_options(Config.from_data(dict(data), "test-backend"))
    host = {"0.0.0.0": _HOST, "": _HOST, "::": "[::1]"}.get(listen.host, listen.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{listen.port}"


async def _start(
    features: Sequence[BackendFeature], overrides: Mapping[str, Any] | None
) -> tuple[Backend, dict[str, Any]]:
    for attempt in range(1, _START_ATTEMPTS + 1):
        data = _config_data(_free_port(), overrides)
        backend = Backend(service_factories_for_tests(data))
        for feature in features:
            backend.add(feature)
        try:
            await backend.start()
        except Exception as error:
            # Another process may take the free port between probing and listening.
            if attempt < _START_ATTEMPTS and "Could not listen on" in str(error):
                continue
            raise
        return backend, data
    raise AssertionError("unreachable")  # pragma: no cover


@asynccontextmanager
async def start_test_backend(
    *,
    features: Sequence[BackendFeature] = (),
    config: Mapping[str, Any] | None = None,
    extension_points: Sequence[tuple[ExtensionPoint[Any], Any]] = (),
) -> AsyncIterator[TestBackend]:
    """Start a real backend with `features` on a free port of 127.0.0.1; stop it on exit.

    Services are backend-defaults' own, except `auth`/`httpAuth` (the mock token grammar
    of `mock_credentials`; a request without a token is the mock user), `scheduler` (runs
    each task once at startup) and, where backend-defaults has none, `cache` and
    `database` (in memory). A service factory among `features` replaces the default.
    `config` is deep-merged over the defaults (`backend.baseUrl`, `backend.listen`,
    `backend.logging.level: warn`). A module whose plugin is not among `features` gets an
    empty plugin, and `extension_points` fakes are offered to the tested modules that
    depend on them::

        async with start_test_backend(features=[my_plugin]) as test:
            response = await test.client.get("/api/my-plugin/things")
    """
    given = list(features)
    extra: list[BackendFeature] = [
        *extension_point_modules(given, extension_points),
        *orphan_module_plugins(given),
    ]
    backend, data = await _start([*extra, *given], config)
    try:
        base_url = _local_url(data)
        async with httpx.AsyncClient(base_url=base_url) as client:
            yield TestBackend(backend=backend, base_url=base_url, client=client, config=data)
    finally:
        await backend.stop()
