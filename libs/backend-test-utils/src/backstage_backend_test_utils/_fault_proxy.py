"""A TCP proxy a test controls, to put a real server (Postgres, Redis) behind faults.

`refuse()` is a server that went away: nothing listens, connections in progress are reset.
`blackhole()` is a network partition: connections are accepted but nothing flows in either
direction, on new connections and on those already open, until `restore()`; bytes in flight
are held, not lost, as TCP would retransmit them once the path is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

__all__ = ["FaultMode", "TcpFaultProxy", "tcp_fault_proxy"]

FaultMode = Literal["pass", "refuse", "blackhole"]

_CHUNK = 65536


class TcpFaultProxy:
    """Forwards `127.0.0.1:<port>` to `target_host:target_port` until told to fail.

    Args:
        target_host: the real server's host.
        target_port: the real server's port.
        port: where to listen; 0 picks a free port (kept across `refuse()` / `restore()`).
    """

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = port
        self._mode: FaultMode = "pass"
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections_accepted = 0

    @property
    def mode(self) -> FaultMode:
        return self._mode

    async def start(self) -> int:
        """Listen; returns the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def refuse(self) -> None:
        """Stop listening (new connections are refused) and reset every open connection."""
        self._mode = "refuse"
        self._flowing.set()
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def blackhole(self) -> None:
        """Accept connections but let nothing through, as a partition does."""
        if self._mode == "refuse":
            await self.start()
        self._mode = "blackhole"
        self._flowing.clear()

    async def restore(self) -> None:
        """Forward again; held bytes of open connections flow on."""
        if self._mode == "refuse":
            await self.start()
        self._mode = "pass"
        self._flowing.set()

    async def close(self) -> None:
        await self.refuse()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()
            if writer.transport.is_closing():
                return
            up_reader, upstream = await asyncio.open_connection(self.target_host, self.target_port)
            self._writers.add(upstream)
            await asyncio.gather(self._pump(reader, upstream), self._pump(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            for end in (writer, upstream):
                if end is not None:
                    self._writers.discard(end)
                    end.transport.abort()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await source.read(_CHUNK)
                if not data:
                    break
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        finally:
            if self._mode == "refuse":
                sink.transport.abort()
            else:
                _close_quietly(sink)


def _close_quietly(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()


@asynccontextmanager
async def tcp_fault_proxy(target_host: str, target_port: int) -> AsyncIterator[TcpFaultProxy]:
    """A started `TcpFaultProxy`, closed on exit::

    async with tcp_fault_proxy("127.0.0.1", 5432) as proxy:
        ...  # connect to 127.0.0.1:proxy.port; await proxy.blackhole(); await proxy.restore()
    """
    proxy = TcpFaultProxy(target_host, target_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
