"""The readers' HTTP side keeps its connections: a "not modified" answer, the common one
of a processing pass, leaves its connection open for the next read (over TLS a new one
would cost a handshake per file)."""

from __future__ import annotations

import httpx
import pytest
from backstage_backend_defaults.url_reader import ReaderHttp
from backstage_backend_test_utils import CapturingLogger
from backstage_backend_test_utils.scm import (
    FakeRepository,
    LoopbackGithub,
    start_loopback_github_api,
)
from backstage_common.errors import NotModifiedError


async def test_a_not_modified_answer_leaves_its_connection_open() -> None:
    async with start_loopback_github_api(LoopbackGithub()) as github:
        github.add_repository(FakeRepository("acme", "public", {"main": {"a.yaml": b"a\n"}}))
        url = f"{github.raw_base_url}/acme/public/main/a.yaml"
        transport = httpx.AsyncHTTPTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            http = ReaderHttp(client, CapturingLogger())
            first = await http.get(url, {})
            assert first.etag
            for _ in range(3):
                with pytest.raises(NotModifiedError):
                    await http.get(url, {"If-None-Match": first.etag})
            connections = transport._pool.connections
            assert len(connections) == 1
            assert connections[0].is_idle()
        assert github.not_modified == 3
