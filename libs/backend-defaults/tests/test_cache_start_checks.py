"""At start the cache service checks the server it is given: SASL credentials against
Debian's memcached started with `-S`, SASL against a memcached without it, RESP for the
Infinispan store. A server that answers wrongly stops the start, naming the problem; one
that does not answer is a warning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from backstage_backend_defaults.cache import CacheManager
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_plugin_api import PluginRegistrationPoints, create_backend_plugin
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import require_service_url, start_test_backend
from backstage_common.config import Config
from backstage_common.errors import InputError


def _credentials(username: str, password: str) -> str:
    return f"{quote(username, safe='')}:{quote(password, safe='')}"


def _plugin_using_the_cache(seen: list[Any]) -> Any:
    async def init(cache: core.Cache) -> None:
        await cache.set("started", True)
        seen.append(await cache.get("started"))

    def register(env: PluginRegistrationPoints) -> None:
        env.register_init(init)

    return create_backend_plugin(plugin_id="cached", register=register)


async def _start_fails(cache: dict[str, Any]) -> str:
    with pytest.raises(Exception) as caught:  # noqa: PT011  # the wiring wraps the cause
        async with start_test_backend(
            features=[_plugin_using_the_cache([])], config={"backend": {"cache": cache}}
        ):
            pass
    return str(caught.value)


def _manager(cache: dict[str, Any], lines: list[bytes]) -> CacheManager:
    config = Config.from_data({"backend": {"cache": cache, "logging": {"format": "json"}}})
    return CacheManager(config, create_root_logger(config, write=lines.append, env={}))


async def test_sasl_credentials_work_against_memcached_started_with_sasl(
    sasl_memcached: dict[str, Any],
) -> None:
    seen: list[Any] = []
    where = f"{sasl_memcached['host']}:{sasl_memcached['port']}"
    connection = _credentials(sasl_memcached["username"], sasl_memcached["password"])
    cache = {"store": "memcache", "connection": f"{connection}@{where}"}
    async with start_test_backend(
        features=[_plugin_using_the_cache(seen)], config={"backend": {"cache": cache}}
    ):
        assert seen == [True]  # stored on, and read back from, the SASL server


async def test_wrong_sasl_credentials_stop_the_start_naming_them(
    sasl_memcached: dict[str, Any],
) -> None:
    where = f"{sasl_memcached['host']}:{sasl_memcached['port']}"
    for connection in (
        f"{sasl_memcached['username']}:wrong@{where}",
        f"nobody:{quote(sasl_memcached['password'], safe='')}@{where}",
    ):
        message = await _start_fails({"store": "memcache", "connection": connection})
        assert "refused the credentials of backend.cache.connection" in message
        assert "wrong" not in message  # the user is named, never the password
        assert sasl_memcached["password"] not in message


async def test_no_credentials_for_a_memcached_requiring_sasl_stop_the_start(
    sasl_memcached: dict[str, Any],
) -> None:
    where = f"{sasl_memcached['host']}:{sasl_memcached['port']}"
    message = await _start_fails({"store": "memcache", "connection": where})
    assert "requires SASL authentication" in message


async def test_credentials_for_a_memcached_without_sasl_stop_the_start() -> None:
    plain = require_service_url("BACKSTAGE_TEST_MEMCACHED_URL").removeprefix("memcache://")
    message = await _start_fails({"store": "memcache", "connection": f"app:pw@{plain}"})
    assert "has no SASL authentication" in message
    assert "start it with -S" in message


async def test_a_plain_memcached_without_credentials_starts() -> None:
    plain = require_service_url("BACKSTAGE_TEST_MEMCACHED_URL").removeprefix("memcache://")
    seen: list[Any] = []
    async with start_test_backend(
        features=[_plugin_using_the_cache(seen)],
        config={"backend": {"cache": {"store": "memcache", "connection": plain}}},
    ):
        assert seen == [True]


@asynccontextmanager
async def _http_server() -> AsyncIterator[int]:
    """A loopback server speaking HTTP/1.1 (as Infinispan's REST endpoint or any web server
    would), not RESP."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_infinispan_refuses_a_server_that_does_not_speak_resp() -> None:
    async with _http_server() as port:
        cache = {"store": "infinispan", "infinispan": {"servers": [{"port": port}]}}
        message = await _start_fails(cache)
    assert f"The cache store at infinispan at 127.0.0.1:{port} does not speak RESP" in message
    assert "HTTP/1.1 400" in message


async def test_sasl_credentials_refused_by_a_server_that_speaks_no_memcached() -> None:
    async with _http_server() as port:
        message = await _start_fails(
            {"store": "memcache", "connection": f"app:pw@127.0.0.1:{port}"}
        )
    assert "does not speak memcached's binary protocol" in message


async def test_infinispan_accepts_a_resp_server() -> None:
    url = urlsplit(require_service_url("BACKSTAGE_TEST_REDIS_URL"))
    servers = [{"host": url.hostname, "port": url.port or 6379}]
    seen: list[Any] = []
    async with start_test_backend(
        features=[_plugin_using_the_cache(seen)],
        config={"backend": {"cache": {"store": "infinispan", "infinispan": {"servers": servers}}}},
    ):
        assert seen == [True]


@pytest.mark.parametrize(
    "cache",
    [
        {"store": "memcache", "connection": "app:pw@127.0.0.1:1"},
        {"store": "memcache", "connection": "127.0.0.1:1"},
        {"store": "infinispan", "infinispan": {"servers": {"port": 1}}},
    ],
    ids=["memcache-sasl", "memcache", "infinispan"],
)
async def test_a_server_that_does_not_answer_at_start_is_a_warning(cache: dict[str, Any]) -> None:
    lines: list[bytes] = []
    manager = _manager(cache, lines)
    try:
        await manager.check()  # no error: an outage is a miss
        assert any(b"did not answer at start" in line for line in lines)
        assert await manager.for_plugin("catalog").get("k") is None
    finally:
        await manager.close()


def test_memcache_credentials_are_read_percent_decoded_and_never_shown() -> None:
    manager = _manager(
        {"store": "memcache", "connection": "app%40corp:p%3Ass%40w@cache.example:11311"}, []
    )
    settings = manager.settings
    assert (settings.username, settings.password) == ("app@corp", "p:ss@w")
    assert (settings.host, settings.port) == ("cache.example", 11311)
    assert "p:ss@w" not in repr(settings)
    assert "p:ss@w" not in settings.describe()


@pytest.mark.parametrize("connection", ["app@h:11211", ":pw@h:11211", "a:11211,b:11211", "h"])
def test_malformed_memcache_connections_are_clear_errors(connection: str) -> None:
    with pytest.raises(InputError, match=r"backend\.cache\.connection"):
        _manager({"store": "memcache", "connection": connection}, [])
