"""core.urlReader against the loopback GitHub and GitLab: the exact requests of each reader,
private files only with the right token, conditional reads, trees, glob search, rate
limits, traversal and hosts that nothing may read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from backstage_backend_defaults.url_reader import (
    AzureUrlReader,
    BitbucketServerUrlReader,
    DefaultUrlReader,
    FetchUrlReader,
    GithubUrlReader,
    GitlabUrlReader,
    ReaderHttp,
)
from backstage_backend_test_utils import CapturingLogger
from backstage_backend_test_utils.scm import (
    FakeRepository,
    LoopbackAzureDevOps,
    LoopbackBitbucketServer,
    LoopbackGithub,
    LoopbackGitlab,
    RateLimit,
    start_loopback_azure_devops,
    start_loopback_bitbucket_server,
    start_loopback_github_api,
    start_loopback_gitlab,
)
from backstage_common.config import Config
from backstage_common.errors import (
    InputError,
    NotAllowedError,
    NotFoundError,
    NotModifiedError,
    ServiceUnavailableError,
)
from backstage_integration import GithubCredentialsProvider, ReadingAllowList, ScmIntegrations

FILES = {
    "catalog-info.yaml": b"kind: Component\n",
    "docs/index.md": b"# Docs\n",
    "docs/guide/setup.md": b"setup\n",
    "services/a/catalog-info.yaml": b"a\n",
    "services/b/catalog-info.yaml": b"b\n",
    "services/b/deep/catalog-info.yaml": b"deep\n",
    ".hidden/catalog-info.yaml": b"hidden\n",
}


@dataclass
class Reading:
    reader: DefaultUrlReader
    logger: CapturingLogger
    waits: list[float]


@pytest.fixture
async def github() -> AsyncIterator[LoopbackGithub]:
    async with start_loopback_github_api(LoopbackGithub()) as server:
        server.add_repository(FakeRepository("acme", "public", {"main": dict(FILES)}))
        server.add_repository(FakeRepository("acme", "secret", {"main": dict(FILES)}, private=True))
        server.tokens["pat"] = {"acme"}
        yield server


@pytest.fixture
async def gitlab() -> AsyncIterator[LoopbackGitlab]:
    async with start_loopback_gitlab(LoopbackGitlab(relative_path="/gl")) as server:
        server.add_project(FakeRepository("grp/sub", "proj", {"main": dict(FILES)}, private=True))
        server.tokens["glpat"] = {"grp"}
        yield server


def build(
    client: httpx.AsyncClient,
    config: dict[str, Any],
    *,
    max_wait: float = 5.0,
) -> Reading:
    root = Config.from_data(config)
    registry = ScmIntegrations.from_config(root)
    logger = CapturingLogger()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    http = ReaderHttp(client, logger, max_wait=max_wait, sleep=sleep)
    credentials = GithubCredentialsProvider(registry.github, client)
    readers: list[Any] = [GithubUrlReader(e, credentials, http) for e in registry.github.entries]
    readers += [GitlabUrlReader(e, http) for e in registry.gitlab.entries]
    readers += [BitbucketServerUrlReader(e, http) for e in registry.bitbucket_server.entries]
    readers += [AzureUrlReader(e, http) for e in registry.azure.entries]
    fetch = FetchUrlReader(http, ReadingAllowList.from_config(root))
    return Reading(DefaultUrlReader(readers, fetch), logger, waits)


def github_config(github: LoopbackGithub, **extra: Any) -> dict[str, Any]:
    return {"integrations": {"github": [github.integration_config(**extra)]}}


def paths(
    server: LoopbackGithub | LoopbackGitlab | LoopbackBitbucketServer | LoopbackAzureDevOps,
) -> list[str]:
    return [path for _, path in server.requests]


async def test_github_public_file_anonymously_from_the_raw_host(github: LoopbackGithub) -> None:
    async with httpx.AsyncClient() as client:
        reading = build(client, github_config(github))
        response = await reading.reader.read_url(github.blob_url("acme", "public", "docs/index.md"))
    assert response.data == b"# Docs\n"
    assert paths(github) == ["/raw/acme/public/main/docs/index.md"]
    assert github.request_headers[0]["accept"] == "application/vnd.github.v3.raw"
    assert "authorization" not in github.request_headers[0]


async def test_github_private_file_only_with_a_token_that_covers_it(
    github: LoopbackGithub,
) -> None:
    url = github.blob_url("acme", "secret", "catalog-info.yaml")
    async with httpx.AsyncClient() as client:
        with pytest.raises(NotFoundError):
            await build(client, github_config(github)).reader.read_url(url)
        github.tokens["other"] = {"someone-else"}
        with pytest.raises(NotFoundError):
            await build(client, github_config(github, token="other")).reader.read_url(url)
        with pytest.raises(NotAllowedError):  # a revoked token: 401
            await build(client, github_config(github, token="revoked")).reader.read_url(url)
        github.reset_log()
        response = await build(client, github_config(github, token="pat")).reader.read_url(url)
    assert response.data == b"kind: Component\n"
    assert paths(github) == ["/api/v3/repos/acme/secret/contents/catalog-info.yaml?ref=main"]
    assert github.request_headers[0]["authorization"] == "Bearer pat"


async def test_github_conditional_read_answers_not_modified(github: LoopbackGithub) -> None:
    url = github.blob_url("acme", "secret", "catalog-info.yaml")
    async with httpx.AsyncClient() as client:
        reader = build(client, github_config(github, token="pat")).reader
        first = await reader.read_url(url)
        assert first.etag
        with pytest.raises(NotModifiedError):
            await reader.read_url(url, etag=first.etag)
        github.repositories["acme/secret"].set_file("catalog-info.yaml", "kind: System\n")
        changed = await reader.read_url(url, etag=first.etag)
    assert changed.data == b"kind: System\n"
    assert changed.etag != first.etag
    assert github.not_modified == 1
    assert github.request_headers[1]["if-none-match"] == first.etag


async def test_github_tree_from_the_tarball_of_the_commit(github: LoopbackGithub) -> None:
    url = f"{github.base_url}/acme/secret/tree/main/docs"
    async with httpx.AsyncClient() as client:
        reader = build(client, github_config(github, token="pat")).reader
        tree = await reader.read_tree(url)
        files = {f.path: f.content for f in await tree.files()}
        assert files == {"index.md": b"# Docs\n", "guide/setup.md": b"setup\n"}
        sha = github.repositories["acme/secret"].commit_sha("main")
        assert tree.etag == sha
        assert [p.split("?")[0] for p in paths(github)] == [
            "/api/v3/repos/acme/secret/commits/main/status",
            f"/api/v3/repos/acme/secret/tarball/{sha}",
        ]
        # the same commit: no download at all
        github.reset_log()
        with pytest.raises(NotModifiedError):
            await reader.read_tree(url, etag=sha)
        assert len(paths(github)) == 1
        filtered = await reader.read_tree(url, filter=lambda path, size: path.endswith("setup.md"))
        assert [f.path for f in await filtered.files()] == ["guide/setup.md"]
        # without a ref: the default branch
        whole = await reader.read_tree(f"{github.base_url}/acme/secret")
        assert len(await whole.files()) == len(FILES)


async def test_github_glob_search_through_the_git_tree(github: LoopbackGithub) -> None:
    url = github.blob_url("acme", "secret", "services/**/catalog-info.yaml")
    async with httpx.AsyncClient() as client:
        reader = build(client, github_config(github, token="pat")).reader
        result = await reader.search(url)
        found = {f.url: await f.content() for f in result.files}
        prefix = f"{github.base_url}/acme/secret/blob/main/"
        assert found == {
            prefix + "services/a/catalog-info.yaml": b"a\n",
            prefix + "services/b/catalog-info.yaml": b"b\n",
            prefix + "services/b/deep/catalog-info.yaml": b"deep\n",
        }
        assert any("/git/trees/" in p and "recursive=true" in p for p in paths(github))
        assert not any("/tarball/" in p for p in paths(github))
        # dotfiles match only when the pattern names them
        everywhere = await reader.search(github.blob_url("acme", "secret", "**/catalog-info.yaml"))
        assert not any(".hidden" in f.url for f in everywhere.files)
        with pytest.raises(NotModifiedError):
            await reader.search(url, etag=result.etag)
        # a truncated tree: the tarball instead, the same matches
        github.truncate_trees = True
        github.reset_log()
        again = await reader.search(url)
        assert {f.url for f in again.files} == set(found)
        assert any("/tarball/" in p for p in paths(github))


async def test_search_without_a_glob_reads_one_file_or_none(github: LoopbackGithub) -> None:
    async with httpx.AsyncClient() as client:
        reader = build(client, github_config(github, token="pat")).reader
        one = await reader.search(github.blob_url("acme", "secret", "catalog-info.yaml"))
        missing = await reader.search(github.blob_url("acme", "secret", "nope.yaml"))
    assert [f.url for f in one.files] == [github.blob_url("acme", "secret", "catalog-info.yaml")]
    assert one.etag
    assert (missing.files, missing.etag) == ([], "")


async def test_gitlab_reads_with_the_exact_requests(gitlab: LoopbackGitlab) -> None:
    config = {"integrations": {"gitlab": [gitlab.integration_config(token="glpat")]}}
    async with httpx.AsyncClient() as client:
        reader = build(client, config).reader
        file = await reader.read_url(gitlab.blob_url("grp/sub/proj", "docs/guide/setup.md"))
        assert file.data == b"setup\n"
        assert paths(gitlab)[0] == (
            "/gl/api/v4/projects/grp%2Fsub%2Fproj/repository/files/docs%2Fguide%2Fsetup.md"
            "/raw?ref=main"
        )
        assert gitlab.request_headers[0]["authorization"] == "Bearer glpat"
        with pytest.raises(NotModifiedError):
            await reader.read_url(
                gitlab.blob_url("grp/sub/proj", "docs/guide/setup.md"), etag=file.etag
            )
        gitlab.reset_log()
        tree = await reader.read_tree(f"{gitlab.web_base_url}/grp/sub/proj/-/tree/main/docs")
        assert {f.path for f in await tree.files()} == {"index.md", "guide/setup.md"}
        assert [p for p in paths(gitlab)] == [
            "/gl/api/v4/projects/grp%2Fsub%2Fproj/repository/commits?ref_name=main&path=docs",
            "/gl/api/v4/projects/grp%2Fsub%2Fproj/repository/archive?sha=main&path=docs",
        ]
        with pytest.raises(NotModifiedError):
            await reader.read_tree(
                f"{gitlab.web_base_url}/grp/sub/proj/-/tree/main/docs", etag=tree.etag
            )
        result = await reader.search(
            gitlab.blob_url("grp/sub/proj", "services/*/catalog-info.yaml")
        )
        assert sorted(f.url for f in result.files) == [
            gitlab.blob_url("grp/sub/proj", "services/a/catalog-info.yaml"),
            gitlab.blob_url("grp/sub/proj", "services/b/catalog-info.yaml"),
        ]
        # without the token the private project does not exist
        anonymous = build(client, {"integrations": {"gitlab": [gitlab.integration_config()]}})
        with pytest.raises(NotFoundError):
            await anonymous.reader.read_url(gitlab.blob_url("grp/sub/proj", "catalog-info.yaml"))
        # outside the instance's sub-path
        with pytest.raises(InputError):
            await reader.read_url(f"{gitlab.base_url}/grp/sub/proj/-/blob/main/x.yaml")


@pytest.mark.parametrize(
    "path",
    [
        "docs/../../other/catalog-info.yaml",
        "docs/%2e%2e/%2e%2e/other/x.yaml",
        "docs/%252e%252e/x.yaml",
        "./catalog-info.yaml",
    ],
)
async def test_path_traversal_never_reaches_the_provider(
    github: LoopbackGithub, gitlab: LoopbackGitlab, path: str
) -> None:
    config = {
        "integrations": {
            "github": [github.integration_config(token="pat")],
            "gitlab": [gitlab.integration_config(token="glpat")],
        }
    }
    async with httpx.AsyncClient() as client:
        reader = build(client, config).reader
        for url in (
            f"{github.base_url}/acme/secret/blob/main/{path}",
            f"{gitlab.web_base_url}/grp/sub/proj/-/blob/main/{path}",
        ):
            with pytest.raises((InputError, NotAllowedError)):
                await reader.read_url(url)
    assert github.requests == []
    assert gitlab.requests == []


async def test_rate_limit_waits_then_succeeds_and_logs_once(github: LoopbackGithub) -> None:
    github.rate_limit(RateLimit(count=2, status=429, retry_after=2))
    async with httpx.AsyncClient() as client:
        reading = build(client, github_config(github, token="pat"))
        response = await reading.reader.read_url(
            github.blob_url("acme", "secret", "catalog-info.yaml")
        )
    assert response.data == b"kind: Component\n"
    assert reading.waits == pytest.approx([2.0, 2.0], abs=0.1)
    assert len(reading.logger.messages("warn")) == 1
    assert len(github.requests) == 3


async def test_rate_limit_reset_far_away_fails_fast_without_hammering(
    github: LoopbackGithub,
) -> None:
    github.rate_limit(RateLimit(count=100, status=403, reset_in=3600))
    url = github.blob_url("acme", "secret", "catalog-info.yaml")
    async with httpx.AsyncClient() as client:
        reading = build(client, github_config(github, token="pat"), max_wait=60)
        for _ in range(5):
            with pytest.raises(ServiceUnavailableError, match="rate limit exceeded"):
                await reading.reader.read_url(url)
    # the first answer closed the host: the other four reads never went out
    assert len(github.requests) == 1
    assert reading.waits == []
    assert len(reading.logger.messages("warn")) == 1


async def test_hosts_without_integration_need_the_allow_list(github: LoopbackGithub) -> None:
    async with httpx.AsyncClient() as client:
        reader = build(client, {}).reader
        with pytest.raises(NotAllowedError, match=r"backend\.reading\.allow"):
            await reader.read_url(f"{github.base_url}/raw/acme/public/main/catalog-info.yaml")
        allowed = build(client, {"backend": {"reading": {"allow": [{"host": github.host}]}}})
        response = await allowed.reader.read_url(
            f"{github.base_url}/raw/acme/public/main/catalog-info.yaml"
        )
        assert response.data == b"kind: Component\n"
        for hostile in (
            "http://127.0.0.1@evil.example/x",
            "http://2130706433/x",
            "file:///etc/passwd",
        ):
            with pytest.raises(NotAllowedError):
                await allowed.reader.read_url(hostile)


def test_github_enterprise_without_api_or_raw_base_refuses_to_start() -> None:
    registry = ScmIntegrations.from_config(
        Config.from_data({"integrations": {"github": [{"host": "ghe.example.com"}]}})
    )
    [entry, _] = registry.github.entries
    client = httpx.AsyncClient()
    http = ReaderHttp(client, CapturingLogger())
    with pytest.raises(InputError, match="apiBaseUrl or rawBaseUrl"):
        GithubUrlReader(entry, GithubCredentialsProvider(registry.github, client), http)


async def test_bitbucket_server_reads_with_the_exact_requests() -> None:
    state = LoopbackBitbucketServer()
    async with start_loopback_bitbucket_server(state) as bitbucket:
        bitbucket.add_repository(FakeRepository("PRJ", "repo", {"main": dict(FILES)}, private=True))
        bitbucket.tokens["bbpat"] = {"PRJ"}
        bitbucket.tokens["jane:secret"] = {"PRJ"}
        config = {
            "integrations": {"bitbucketServer": [bitbucket.integration_config(token="bbpat")]}
        }
        async with httpx.AsyncClient() as client:
            reader = build(client, config).reader
            url = bitbucket.browse_url("PRJ", "repo", "docs/index.md")
            file = await reader.read_url(url)
            assert file.data == b"# Docs\n"
            assert paths(bitbucket) == [
                "/rest/api/1.0/projects/PRJ/repos/repo/raw/docs/index.md?at=main"
            ]
            assert bitbucket.request_headers[0]["authorization"] == "Bearer bbpat"
            with pytest.raises(NotModifiedError):
                await reader.read_url(url, etag=file.etag)
            bitbucket.reset_log()
            tree = await reader.read_tree(bitbucket.browse_url("PRJ", "repo", "docs"))
            assert {f.path for f in await tree.files()} == {"index.md", "guide/setup.md"}
            assert tree.etag == bitbucket.repositories["PRJ/REPO"].commit_sha("main")[:12]
            assert paths(bitbucket) == [
                "/rest/api/1.0/projects/PRJ/repos/repo/branches?filterText=main",
                "/rest/api/1.0/projects/PRJ/repos/repo/archive?format=tgz&at=main&prefix=PRJ-repo&path=docs",
            ]
            with pytest.raises(NotModifiedError):
                await reader.read_tree(bitbucket.browse_url("PRJ", "repo", "docs"), etag=tree.etag)
            found = await reader.search(
                bitbucket.browse_url("PRJ", "repo", "services/*/catalog-info.yaml")
            )
            assert sorted(f.url for f in found.files) == [
                bitbucket.browse_url("PRJ", "repo", "services/a/catalog-info.yaml"),
                bitbucket.browse_url("PRJ", "repo", "services/b/catalog-info.yaml"),
            ]
            # username and password as Basic
            basic = {
                "integrations": {
                    "bitbucketServer": [
                        bitbucket.integration_config(username="jane", password="secret")
                    ]
                }
            }
            assert (await build(client, basic).reader.read_url(url)).data == b"# Docs\n"
            # no credentials: the private repository does not exist
            anonymous = {"integrations": {"bitbucketServer": [bitbucket.integration_config()]}}
            with pytest.raises(NotFoundError):
                await build(client, anonymous).reader.read_url(url)
            with pytest.raises(InputError, match="path traversal"):
                await reader.read_url(bitbucket.browse_url("PRJ", "repo", "docs/%2e%2e/x"))


async def test_raw_urls_people_paste_are_read_too(
    github: LoopbackGithub, gitlab: LoopbackGitlab
) -> None:
    config = {
        "integrations": {
            "github": [github.integration_config(token="pat")],
            "gitlab": [gitlab.integration_config(token="glpat")],
        }
    }
    async with httpx.AsyncClient() as client:
        reader = build(client, config).reader
        from_github = await reader.read_url(f"{github.base_url}/acme/secret/raw/main/docs/index.md")
        from_gitlab = await reader.read_url(
            f"{gitlab.web_base_url}/grp/sub/proj/-/raw/main/docs/index.md"
        )
        tree_url = await reader.read_url(f"{github.base_url}/acme/secret/tree/main/docs/index.md")
    assert from_github.data == from_gitlab.data == tree_url.data == b"# Docs\n"


async def test_azure_devops_reads_with_a_personal_access_token() -> None:
    async with start_loopback_azure_devops(LoopbackAzureDevOps()) as azure:
        azure.add_repository(
            FakeRepository("org/proj", "repo", {"main": dict(FILES)}, private=True)
        )
        azure.tokens["azpat"] = {"org"}
        entry = azure.integration_config(credentials=[{"personalAccessToken": "azpat"}])
        config = {"integrations": {"azure": [entry]}}
        async with httpx.AsyncClient() as client:
            reader = build(client, config).reader
            url = azure.file_url("org/proj", "repo", "docs/index.md")
            file = await reader.read_url(url)
            assert file.data == b"# Docs\n"
            assert file.etag is None  # Azure DevOps items carry no ETag
            assert paths(azure) == [
                "/org/proj/_apis/git/repositories/repo/items?api-version=6.0&path=/docs/index.md"
                "&versionDescriptor.version=main&versionDescriptor.versionType=branch"
            ]
            assert azure.request_headers[0]["authorization"] == "Basic OmF6cGF0"
            tree = await reader.read_tree(azure.file_url("org/proj", "repo", "docs"))
            assert {f.path for f in await tree.files()} == {"index.md", "guide/setup.md"}
            with pytest.raises(NotModifiedError):
                await reader.read_tree(azure.file_url("org/proj", "repo", "docs"), etag=tree.etag)
            found = await reader.search(
                azure.file_url("org/proj", "repo", "services/*/catalog-info.yaml")
            )
            assert sorted(f.url for f in found.files) == [
                azure.file_url("org/proj", "repo", "services/a/catalog-info.yaml"),
                azure.file_url("org/proj", "repo", "services/b/catalog-info.yaml"),
            ]
            # no credentials: Azure DevOps answers its sign-in page with a 203
            anonymous = build(client, {"integrations": {"azure": [azure.integration_config()]}})
            with pytest.raises(NotAllowedError, match="refused the credentials"):
                await anonymous.reader.read_url(url)
