"""What the cache service checks when it starts: that the server it reaches is the kind the
config says, with the credentials the config gives.

A server that answers wrongly stops the start, naming the problem: credentials refused,
credentials given to a memcached without SASL, SASL required but no credentials given, an
Infinispan endpoint that does not speak RESP. A server that does not answer at all is only
a warning: a cache outage is a miss, at start as later, never a failed start.
"""

from __future__ import annotations

import asyncio
import ssl

from backstage_backend_plugin_api import LoggerService
from backstage_common.errors import InputError

from backstage_backend_defaults.cache._memcached_binary import (
    BinaryMemcachedClient,
    MemcachedError,
    NotBinaryProtocolError,
    probe_sasl,
)
from backstage_backend_defaults.cache._settings import StoreSettings

__all__ = ["check_store"]

# the first byte of every RESP2 and RESP3 reply
_RESP_TYPES = frozenset(b"+-:$*_,#!=(%~>|")
_PING = b"*1\r\n$4\r\nPING\r\n"


def _unreachable(logger: LoggerService, settings: StoreSettings, error: BaseException) -> None:
    logger.warn(
        f"The cache store ({settings.describe()}) did not answer at start; cache calls are "
        "misses until it does",
        {"error": {"name": type(error).__name__, "message": str(error)}},
    )


async def _check_memcached_sasl(settings: StoreSettings) -> None:
    assert settings.username is not None
    assert settings.password is not None
    client = BinaryMemcachedClient(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password,
        connect_timeout=settings.timeout,
    )
    where = settings.describe()
    try:
        connection = await client.authenticated_connection()
    except NotBinaryProtocolError as error:
        raise InputError(
            f"The cache store at {where} does not speak memcached's binary protocol, which "
            f"SASL authentication needs ({error})"
        ) from error
    except MemcachedError as error:
        if error.no_sasl:
            raise InputError(
                f"backend.cache.connection gives credentials, but memcached at {where} has no "
                "SASL authentication (start it with -S, or remove user:pass@ from the "
                "connection)"
            ) from error
        if error.credentials_refused:
            raise InputError(
                f"memcached at {where} refused the credentials of backend.cache.connection "
                f"(SASL PLAIN as user '{settings.username}'): {error}"
            ) from error
        raise InputError(f"memcached at {where} failed SASL authentication: {error}") from error
    connection.close()


async def _check_memcached_plain(settings: StoreSettings) -> None:
    try:
        probe = await probe_sasl(settings.host, settings.port, settings.timeout)
    except NotBinaryProtocolError:
        return  # a text-protocol-only memcached (`-B ascii`): no SASL, as configured
    if probe.sasl:
        raise InputError(
            f"memcached at {settings.describe()} requires SASL authentication: give its "
            "credentials in backend.cache.connection (user:pass@host:port)"
        )


def _ssl_context(settings: StoreSettings) -> ssl.SSLContext | None:
    return ssl.create_default_context() if settings.ssl else None


async def _check_resp(settings: StoreSettings) -> None:
    """A RESP server answers PING with a RESP reply, `-NOAUTH ...` included."""
    async with asyncio.timeout(settings.timeout):
        reader, writer = await asyncio.open_connection(
            settings.host, settings.port, ssl=_ssl_context(settings)
        )
    try:
        writer.write(_PING)
        async with asyncio.timeout(settings.timeout):
            first = await reader.read(64)
    finally:
        writer.close()
    if not first or first[0] not in _RESP_TYPES:
        answered = repr(first[:40]) if first else "nothing, closing the connection"
        raise InputError(
            f"The cache store at {settings.describe()} does not speak RESP (the Redis "
            f"protocol): it answered PING with {answered}. The infinispan store uses "
            "Infinispan's RESP endpoint (Infinispan 15 or later, on its single port); check "
            "backend.cache.infinispan.servers"
        )


async def check_store(settings: StoreSettings, logger: LoggerService) -> None:
    """Raise `InputError` naming the problem when the store's server answers wrongly; log
    a warning when it does not answer."""
    if settings.store == "memcache":
        check = (
            _check_memcached_sasl(settings)
            if settings.username is not None
            else _check_memcached_plain(settings)
        )
    elif settings.store == "infinispan":
        check = _check_resp(settings)
    else:
        return
    try:
        await check
    except (OSError, TimeoutError) as error:
        _unreachable(logger, settings, error)
