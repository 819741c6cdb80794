"""Requests to an identity provider over real sockets: what its failures become."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from backstage_common.errors import ServiceUnavailableError
from backstage_plugin_auth_node import send_to_provider


@pytest.fixture
async def answering() -> AsyncIterator[Callable[[int], str]]:
    """A server answering every request with the status its path names (`/503`)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = await reader.readline()
        while (await reader.readline()).strip():
            pass
        status = request_line.split()[1].decode().lstrip("/")
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield lambda status: f"http://127.0.0.1:{port}/{status}"
    finally:
        server.close()
        await server.wait_closed()


async def test_an_answer_below_500_is_returned_whatever_its_status(
    answering: Callable[[int], str],
) -> None:
    async with httpx.AsyncClient() as http:
        request = http.build_request("POST", answering(401), data={"client_secret": "s3cret"})
        response = await send_to_provider(http, request, provider="GitHub", what="the request")
    assert response.status_code == 401


async def test_a_5xx_is_unavailable_and_names_the_status(
    answering: Callable[[int], str],
) -> None:
    async with httpx.AsyncClient() as http:
        request = http.build_request("POST", answering(503), data={"client_secret": "s3cret"})
        with pytest.raises(ServiceUnavailableError) as raised:
            await send_to_provider(http, request, provider="GitHub", what="the token request")
    assert str(raised.value) == "GitHub failed the token request with status 503"


async def test_an_unreachable_provider_is_unavailable_and_the_message_names_no_secret() -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient() as http:
        request = http.build_request(
            "POST", f"http://127.0.0.1:{port}/token", data={"client_secret": "s3cret"}
        )
        with pytest.raises(ServiceUnavailableError) as raised:
            await send_to_provider(http, request, provider="The IdP", what="the token request")
    assert str(raised.value) == "The IdP did not answer the token request: ConnectError"
