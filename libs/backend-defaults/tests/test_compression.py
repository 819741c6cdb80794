"""gzip response compression over real HTTP: negotiation, headers, threshold, streams, errors."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from backstage_backend_defaults import ServiceInstantiationError
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    core_services,
    create_backend_plugin,
)
from backstage_backend_test_utils import start_test_backend
from backstage_common.errors import InputError
from litestar import Response, delete, get, head
from litestar.response import Stream

ITEMS = [{"kind": "Component", "metadata": {"name": f"service-{i}"}} for i in range(200)]
BIG = {"items": ITEMS}  # about 10 KB of JSON
PNG = bytes(range(256)) * 20
GZIP_ONLY = {"Accept-Encoding": "gzip"}


class StreamGate:
    """Lets a streaming handler wait until the client has read its first chunk."""

    def __init__(self) -> None:
        self.first_chunk_read = asyncio.Event()


@get("/big")
async def big() -> dict[str, Any]:
    return BIG


@get("/small")
async def small() -> dict[str, str]:
    return {"status": "fine"}


@get("/text")
async def text() -> Response[str]:
    return Response("line of text\n" * 500, media_type="text/plain")


@get("/png")
async def png() -> Response[bytes]:
    return Response(PNG, media_type="image/png")


@get("/encoded")
async def encoded() -> Response[bytes]:
    body = gzip.compress(json.dumps(BIG).encode())
    return Response(body, media_type="application/json", headers={"content-encoding": "gzip"})


@get("/no-transform")
async def no_transform() -> Response[dict[str, Any]]:
    return Response(BIG, headers={"cache-control": "no-transform"})


@get("/varies")
async def varies() -> Response[dict[str, Any]]:
    return Response(BIG, headers={"vary": "Origin"})


@head("/big")
async def head_big() -> Response[None]:
    return Response(None, media_type="application/json", headers={"content-length": "10000"})


@delete("/thing", status_code=204)
async def delete_thing() -> None:
    return None


@get("/fail")
async def fail() -> None:
    raise InputError("bad filter " + "x" * 3000)


def streaming_plugin(gate: StreamGate):  # type: ignore[no-untyped-def]
    @get("/stream")
    async def stream() -> Stream:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"["
            yield json.dumps(ITEMS[0]).encode()
            await asyncio.wait_for(gate.first_chunk_read.wait(), 10)
            for item in ITEMS[1:]:
                yield b"," + json.dumps(item).encode()
            yield b"]"

        return Stream(chunks(), media_type="application/json")

    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core_services.HttpRouter) -> None:
            router.use(
                big, small, text, png, encoded, no_transform, varies, head_big, delete_thing, fail
            )
            router.use(stream)
            # Open routes take the router's common path, where compression's `Vary` is added
            # by the request's status recorder unless the client takes gzip; `HEAD` requests
            # still go through the compression layer of their own.
            router.add_auth_policy(path="/", allow="unauthenticated")

        env.register_init(init)

    return create_backend_plugin(plugin_id="demo", register=register)


async def raw_get(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> httpx.Response:
    """The response with its body as sent on the wire (httpx would inflate it)."""
    request = client.build_request("GET", path, headers=headers)
    response = await client.send(request, stream=True)
    raw = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    response._content = raw
    return response


def identity_headers(accept_encoding: str | None) -> dict[str, str]:
    """httpx sends `Accept-Encoding: gzip, deflate` unless told otherwise."""
    return {"Accept-Encoding": "" if accept_encoding is None else accept_encoding}


async def test_large_json_is_gzipped_and_decompresses_to_the_identical_body() -> None:
    async with start_test_backend(features=[streaming_plugin(StreamGate())]) as backend:
        plain = await raw_get(backend.client, "/api/demo/big", identity_headers("identity"))
        zipped = await raw_get(backend.client, "/api/demo/big", GZIP_ONLY)
    assert "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) == len(plain.content)
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["content-type"] == plain.headers["content-type"]
    assert int(zipped.headers["content-length"]) == len(zipped.content)
    assert len(zipped.content) < len(plain.content) / 4
    assert gzip.decompress(zipped.content) == plain.content
    assert json.loads(gzip.decompress(zipped.content)) == BIG


@pytest.mark.parametrize(
    ("accept_encoding", "compressed"),
    [
        (None, False),
        ("identity", False),
        ("br", False),
        ("gzip;q=0", False),
        ("gzip;q=0, deflate", False),
        ("*;q=0", False),
        ("gzip;q=0.5, identity", False),
        ("gzip;q=oops", False),
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip, deflate, br", True),
        ("deflate, gzip;q=0.5", True),
        ("br, *", True),
        ("identity;q=0.5, gzip", True),
        ("gzip;q=0.5, identity;q=0.5", True),
        ("identity;q=0, gzip;q=0.1", True),
    ],
)
async def test_accept_encoding_decides(accept_encoding: str | None, compressed: bool) -> None:
    async with start_test_backend(features=[streaming_plugin(StreamGate())]) as backend:
        response = await raw_get(backend.client, "/api/demo/big", identity_headers(accept_encoding))
    assert response.headers.get("content-encoding") == ("gzip" if compressed else None)
    assert response.headers["vary"] == "Accept-Encoding"
    body = gzip.decompress(response.content) if compressed else response.content
    assert json.loads(body) == BIG


async def test_what_is_not_compressed_even_when_gzip_is_accepted() -> None:
    async with start_test_backend(features=[streaming_plugin(StreamGate())]) as backend:
        client = backend.client
        small = await raw_get(client, "/api/demo/small", GZIP_ONLY)
        png = await raw_get(client, "/api/demo/png", GZIP_ONLY)
        encoded = await raw_get(client, "/api/demo/encoded", GZIP_ONLY)
        no_transform = await raw_get(client, "/api/demo/no-transform", GZIP_ONLY)
        head_big = await client.head("/api/demo/big", headers=GZIP_ONLY)
        deleted = await client.delete("/api/demo/thing", headers=GZIP_ONLY)
    # below the 1 KiB threshold: as it is, but it varies with Accept-Encoding all the same
    assert "content-encoding" not in small.headers
    assert small.headers["vary"] == "Accept-Encoding"
    assert json.loads(small.content) == {"status": "fine"}
    assert int(small.headers["content-length"]) == len(small.content)
    # not a compressible type
    assert "content-encoding" not in png.headers
    assert "vary" not in png.headers
    assert png.content == PNG
    # already encoded by the handler: not encoded twice
    assert encoded.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(encoded.content)) == BIG
    assert "content-encoding" not in no_transform.headers
    assert json.loads(no_transform.content) == BIG
    assert head_big.status_code == 200
    assert "content-encoding" not in head_big.headers
    assert head_big.headers["content-length"] == "10000"
    assert head_big.headers["vary"] == "Accept-Encoding"
    assert deleted.status_code == 204
    assert "content-encoding" not in deleted.headers
    assert deleted.content == b""


async def test_text_is_compressed_and_an_existing_vary_is_kept() -> None:
    async with start_test_backend(features=[streaming_plugin(StreamGate())]) as backend:
        text = await raw_get(backend.client, "/api/demo/text", GZIP_ONLY)
        varies = await raw_get(backend.client, "/api/demo/varies", GZIP_ONLY)
    assert text.headers["content-encoding"] == "gzip"
    assert gzip.decompress(text.content) == b"line of text\n" * 500
    assert varies.headers["content-encoding"] == "gzip"
    assert varies.headers.get_list("vary") == ["Origin", "Accept-Encoding"]


async def test_a_stream_is_compressed_chunk_by_chunk_as_it_comes() -> None:
    gate = StreamGate()
    async with start_test_backend(features=[streaming_plugin(gate)]) as backend:
        request = backend.client.build_request("GET", "/api/demo/stream", headers=GZIP_ONLY)
        response = await backend.client.send(request, stream=True)
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        inflate = zlib.decompressobj(31)
        received = b""
        raw = response.aiter_raw()
        # The server holds the rest of the stream until this first part is read: it must
        # have been flushed through the compressor, not kept back in it.
        while not received.startswith(b"[" + json.dumps(ITEMS[0]).encode()):
            received += inflate.decompress(await asyncio.wait_for(anext(raw), 10))
        gate.first_chunk_read.set()
        async for chunk in raw:
            received += inflate.decompress(chunk)
        await response.aclose()
    assert inflate.eof
    assert json.loads(received) == ITEMS


async def test_errors_keep_backstages_error_shape_compressed_or_not() -> None:
    async with start_test_backend(features=[streaming_plugin(StreamGate())]) as backend:
        large = await raw_get(backend.client, "/api/demo/fail", GZIP_ONLY)
        missing = await raw_get(backend.client, "/api/demo/nowhere", GZIP_ONLY)
    assert large.status_code == 400
    assert large.headers["content-encoding"] == "gzip"
    body = json.loads(gzip.decompress(large.content))
    assert body["error"]["name"] == "InputError"
    assert body["error"]["message"].startswith("bad filter x")
    assert body["request"] == {"method": "GET", "url": "/fail"}
    assert body["response"] == {"statusCode": 400}
    assert missing.status_code == 404
    assert "content-encoding" not in missing.headers  # small
    assert json.loads(missing.content)["error"]["name"] == "NotFoundError"


async def test_config_turns_it_off_or_raises_the_threshold() -> None:
    plugin = streaming_plugin(StreamGate())
    off = {"backend": {"compression": {"enabled": False}}}
    async with start_test_backend(features=[plugin], config=off) as backend:
        response = await raw_get(backend.client, "/api/demo/big", GZIP_ONLY)
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert json.loads(response.content) == BIG

    higher = {"backend": {"compression": {"threshold": "64kb", "level": 3}}}
    async with start_test_backend(features=[plugin], config=higher) as backend:
        big_response = await raw_get(backend.client, "/api/demo/big", GZIP_ONLY)
    assert "content-encoding" not in big_response.headers
    assert big_response.headers["vary"] == "Accept-Encoding"

    lower = {"backend": {"compression": {"threshold": 10, "level": 0}}}
    async with start_test_backend(features=[plugin], config=lower) as backend:
        small_response = await raw_get(backend.client, "/api/demo/small", GZIP_ONLY)
    assert small_response.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(small_response.content)) == {"status": "fine"}


@pytest.mark.parametrize(
    ("compression", "message"),
    [
        ({"level": 9}, "backend.compression.level"),
        ({"level": 1.5}, "backend.compression.level"),
        ({"level": -1}, "backend.compression.level"),
        ({"level": float("inf")}, "backend.compression.level"),
        ({"threshold": "lots"}, "backend.compression.threshold"),
        ({"enabled": "sometimes"}, "backend.compression.enabled"),
    ],
)
async def test_invalid_config_fails_the_start_with_the_key(
    compression: dict[str, Any], message: str
) -> None:
    config = {"backend": {"compression": compression}}
    with pytest.raises(ServiceInstantiationError, match=f"ConfigError: .*'{message}'"):
        async with start_test_backend(config=config):
            pass
