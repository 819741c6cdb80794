"""memcached's binary protocol with SASL PLAIN authentication, for `user:pass@host:port`.

A memcached started with SASL (`-S`) speaks only the binary protocol and answers every
command of an unauthenticated connection with an auth error. aiomcache speaks the text
protocol and has no SASL; emcache's "SASL" is the text protocol's `-Y` auth file, not SASL;
python-binary-memcached is synchronous. So this module speaks the three commands the cache
needs (get, set, delete), plus the SASL handshake each connection does first, over asyncio
streams: the same frames memjs (Backstage's memcached client) sends.

A connection carries one command at a time. One cancelled mid-command (a timeout) is
closed, never pooled: its answer may still arrive and would be read as the next command's.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

__all__ = [
    "BinaryMemcachedClient",
    "MemcachedError",
    "NotBinaryProtocolError",
    "SaslProbe",
    "probe_sasl",
]

_HEADER = struct.Struct(">BBHBBHIIQ")
_REQUEST = 0x80
_RESPONSE = 0x81
_GET, _SET, _DELETE = 0x00, 0x01, 0x04
_SASL_LIST_MECHS, _SASL_AUTH = 0x20, 0x21
_OK, _NOT_FOUND, _AUTH_ERROR, _UNKNOWN_COMMAND = 0x00, 0x01, 0x20, 0x81
_SET_EXTRAS = struct.Struct(">II")  # flags, expiry


class MemcachedError(Exception):
    """The server answered a command with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"memcached error 0x{status:02x}: {message}")
        self.status = status

    @property
    def credentials_refused(self) -> bool:
        """The server refused the credentials (or offers no mechanism that takes them)."""
        return self.status == _AUTH_ERROR

    @property
    def no_sasl(self) -> bool:
        """The server has no SASL (a memcached started without `-S`)."""
        return self.status == _UNKNOWN_COMMAND


class NotBinaryProtocolError(Exception):
    """What answered is not a memcached speaking the binary protocol."""


@dataclass(frozen=True)
class _Answer:
    status: int
    extras: bytes
    value: bytes

    @property
    def message(self) -> str:
        return self.value.decode("utf-8", "replace")


class _Connection:
    __slots__ = ("_reader", "_writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def call(
        self, opcode: int, key: bytes = b"", extras: bytes = b"", value: bytes = b""
    ) -> _Answer:
        body_length = len(extras) + len(key) + len(value)
        header = _HEADER.pack(_REQUEST, opcode, len(key), len(extras), 0, 0, body_length, 0, 0)
        self._writer.write(header + extras + key + value)
        try:
            raw = await self._reader.readexactly(_HEADER.size)
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise NotBinaryProtocolError(
                    f"answered {error.partial[:40]!r}, not a binary protocol frame"
                ) from error
            raise ConnectionResetError("memcached closed the connection") from error
        magic, answered, key_length, extras_length, _, status, length, _, _ = _HEADER.unpack(raw)
        if magic != _RESPONSE or answered != opcode:
            raise NotBinaryProtocolError(f"answered {raw[:40]!r}, not a binary protocol frame")
        body = await self._reader.readexactly(length)
        return _Answer(status, body[:extras_length], body[extras_length + key_length :])

    @property
    def usable(self) -> bool:
        """False once the server has closed it (a restart, an idle timeout, a proxy)."""
        return not (self._reader.at_eof() or self._writer.is_closing())

    def close(self) -> None:
        self._writer.close()


async def _open(host: str, port: int, timeout: float) -> _Connection:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
    return _Connection(reader, writer)


@dataclass(frozen=True)
class SaslProbe:
    """What a server said to a request for its SASL mechanisms."""

    sasl: bool
    """It has SASL on (started with `-S`)."""
    mechanisms: tuple[str, ...] = ()


async def _mechanisms(connection: _Connection) -> SaslProbe:
    answer = await connection.call(_SASL_LIST_MECHS)
    if answer.status == _UNKNOWN_COMMAND:
        return SaslProbe(sasl=False)
    if answer.status != _OK:
        raise MemcachedError(answer.status, answer.message)
    return SaslProbe(sasl=True, mechanisms=tuple(answer.message.split()))


async def probe_sasl(host: str, port: int, timeout: float) -> SaslProbe:
    """Whether the server at `host:port` has SASL on (one connection, closed after).

    Raises `OSError` or `TimeoutError` when nothing answers, `NotBinaryProtocolError` when
    something answers that is not memcached's binary protocol.
    """
    connection = await _open(host, port, timeout)
    try:
        async with asyncio.timeout(timeout):
            return await _mechanisms(connection)
    finally:
        connection.close()


def _plain(username: str, password: str) -> bytes:
    """SASL PLAIN's message (RFC 4616): no authorization identity, then user and password."""
    return b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8")


class BinaryMemcachedClient:
    """A pool of authenticated binary-protocol connections to one memcached.

    The methods mirror aiomcache's client (keys and values as bytes, `exptime` in memcached's
    seconds), so the memcached store drives either.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str,
        password: str,
        pool_size: int = 4,
        connect_timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self._credentials = _plain(username, password)
        self._connect_timeout = connect_timeout
        # one slot per connection the pool may hold: a connection, or None for one to open
        self._slots: asyncio.Queue[_Connection | None] = asyncio.Queue()
        for _ in range(pool_size):
            self._slots.put_nowait(None)
        self._open: set[_Connection] = set()

    async def authenticated_connection(self) -> _Connection:
        """A new connection that has passed SASL PLAIN; `MemcachedError` with status 0x20
        when the server refuses the credentials, and with 0x81 when it has no SASL."""
        connection = await _open(self.host, self.port, self._connect_timeout)
        try:
            async with asyncio.timeout(self._connect_timeout):
                probe = await _mechanisms(connection)
                if not probe.sasl:
                    raise MemcachedError(_UNKNOWN_COMMAND, "SASL is not enabled on this server")
                if "PLAIN" not in probe.mechanisms:
                    raise MemcachedError(
                        _AUTH_ERROR,
                        "the server offers no SASL PLAIN, only " + " ".join(probe.mechanisms),
                    )
                answer = await connection.call(_SASL_AUTH, b"PLAIN", value=self._credentials)
            if answer.status != _OK:
                raise MemcachedError(answer.status, answer.message)
        except BaseException:
            connection.close()
            raise
        return connection

    async def _run(
        self, opcode: int, key: bytes, extras: bytes = b"", value: bytes = b""
    ) -> _Answer:
        connection = await self._slots.get()
        if connection is not None and not connection.usable:  # closed while it idled
            connection.close()
            self._open.discard(connection)
            connection = None
        try:
            if connection is None:
                connection = await self.authenticated_connection()
                self._open.add(connection)
            answer = await connection.call(opcode, key, extras, value)
        except BaseException:
            if connection is not None:  # mid-command: its answer must never be read later
                connection.close()
                self._open.discard(connection)
            self._slots.put_nowait(None)
            raise
        self._slots.put_nowait(connection)
        return answer

    async def get(self, key: bytes) -> bytes | None:
        answer = await self._run(_GET, key)
        if answer.status == _NOT_FOUND:
            return None
        if answer.status != _OK:
            raise MemcachedError(answer.status, answer.message)
        return answer.value

    async def set(self, key: bytes, value: bytes, exptime: int = 0) -> bool:
        answer = await self._run(_SET, key, _SET_EXTRAS.pack(0, exptime), value)
        if answer.status != _OK:
            raise MemcachedError(answer.status, answer.message)
        return True

    async def delete(self, key: bytes) -> bool:
        answer = await self._run(_DELETE, key)
        if answer.status not in (_OK, _NOT_FOUND):
            raise MemcachedError(answer.status, answer.message)
        return answer.status == _OK

    async def close(self) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()
