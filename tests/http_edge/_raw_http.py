"""HTTP/1.1 requests with the request target sent byte for byte: no client library between
the test and the server normalises slashes, dot segments or percent-encoding."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import h11


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


async def raw_request(
    host: str,
    port: int,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> RawResponse:
    """One request on a new connection; `target` goes on the request line as it is."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        connection = h11.Connection(h11.CLIENT)
        sent = {"host": f"{host}:{port}", "content-length": str(len(body)), **(headers or {})}
        request = h11.Request(method=method, target=target, headers=list(sent.items()))
        writer.write(connection.send(request) or b"")
        writer.write(connection.send(h11.Data(data=body)) if body else b"")
        writer.write(connection.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        return await asyncio.wait_for(_read_response(connection, reader), 30)
    finally:
        writer.close()
        await writer.wait_closed()


async def _read_response(connection: h11.Connection, reader: asyncio.StreamReader) -> RawResponse:
    status = 0
    headers: dict[str, str] = {}
    chunks: list[bytes] = []
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = {name.decode(): value.decode() for name, value in event.headers}
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return RawResponse(status, headers, b"".join(chunks))
