"""GitHub files searched with an ETag: one commit lookup for the files asked for together,
no request of their own while the branch's commit is the one their ETag was confirmed at,
a conditional read once it moved, and a full read once the file changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from backstage_backend_defaults.url_reader import GithubUrlReader, ReaderHttp
from backstage_backend_test_utils import CapturingLogger
from backstage_backend_test_utils.scm import (
    FakeRepository,
    LoopbackGithub,
    start_loopback_github_api,
)
from backstage_common.config import Config
from backstage_common.errors import NotModifiedError
from backstage_integration import GithubCredentialsProvider, ScmIntegrations

STATUS = "/api/v3/repos/acme/mono/commits/main/status?per_page=0"


@pytest.fixture
async def github() -> AsyncIterator[LoopbackGithub]:
    async with start_loopback_github_api(LoopbackGithub()) as server:
        files = {f"s{i}.yaml": f"kind: Component {i}\n".encode() for i in range(5)}
        server.add_repository(FakeRepository("acme", "mono", {"main": files}, private=True))
        server.tokens["pat"] = {"acme"}
        yield server


@pytest.fixture
async def reader(github: LoopbackGithub) -> AsyncIterator[GithubUrlReader]:
    config = Config.from_data(
        {"integrations": {"github": [github.integration_config(token="pat")]}}
    )
    registry = ScmIntegrations.from_config(config)
    async with httpx.AsyncClient() as client:
        credentials = GithubCredentialsProvider(registry.github, client)
        [entry] = [e for e in registry.github.entries if e.host == github.host]
        yield GithubUrlReader(entry, credentials, ReaderHttp(client, CapturingLogger()))


async def search_all(reader: GithubUrlReader, urls: dict[str, str]) -> list[str]:
    """Search every url with its ETag at once: the results' ETags, or "304"."""

    async def one(url: str, etag: str) -> str:
        try:
            return (await reader.search(url, etag=etag)).etag
        except NotModifiedError:
            return "304"

    return list(await asyncio.gather(*(one(url, etag) for url, etag in urls.items())))


async def test_files_of_an_unchanged_commit_cost_one_lookup(
    github: LoopbackGithub, reader: GithubUrlReader
) -> None:
    urls = [github.blob_url("acme", "mono", f"s{i}.yaml") for i in range(5)]
    etags = {url: (await reader.search(url)).etag for url in urls}
    github.reset_log()

    # the commit is looked up once; each file is read conditionally once
    assert await search_all(reader, etags) == ["304"] * 5
    assert [path for _, path in github.requests].count(STATUS) == 1
    assert github.not_modified == 5
    github.reset_log()

    # now every ETag is confirmed at this commit: the lookup is all
    assert await search_all(reader, etags) == ["304"] * 5
    assert [path for _, path in github.requests] == [STATUS]
    github.reset_log()

    # a lookup is never taken from an earlier call: one after the other, one each
    for url in urls[:2]:
        with pytest.raises(NotModifiedError):
            await reader.search(url, etag=etags[url])
    assert [path for _, path in github.requests] == [STATUS, STATUS]


async def test_a_moved_commit_reads_conditionally_and_a_changed_file_in_full(
    github: LoopbackGithub, reader: GithubUrlReader
) -> None:
    url = github.blob_url("acme", "mono", "s0.yaml")
    etag = (await reader.search(url)).etag
    await search_all(reader, {url: etag})
    mono = github.repositories["acme/mono"]

    mono.set_file("README.md", "another commit")
    github.reset_log()
    assert await search_all(reader, {url: etag}) == ["304"]
    assert len(github.requests) == 2
    assert github.not_modified == 1

    mono.set_file("s0.yaml", "kind: System\n")
    changed = await reader.search(url, etag=etag)
    assert changed.etag != etag
    assert await changed.files[0].content() == b"kind: System\n"
    github.reset_log()
    assert await search_all(reader, {url: changed.etag}) == ["304"]
    assert await search_all(reader, {url: changed.etag}) == ["304"]
    assert [path for _, path in github.requests].count(STATUS) == 2
    assert github.not_modified == 0


async def test_a_file_of_a_missing_branch_is_not_found(
    github: LoopbackGithub, reader: GithubUrlReader
) -> None:
    url = github.blob_url("acme", "mono", "s0.yaml", ref="gone")
    response = await reader.search(url, etag='"an-etag"')
    assert response.files == []
