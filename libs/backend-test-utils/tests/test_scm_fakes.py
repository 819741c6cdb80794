"""The loopback SCM servers answer as GitHub and GitLab document: private repositories
hidden from other tokens, unknown tokens refused, ETags, `Link` pages, rate limits."""

from __future__ import annotations

import httpx
from backstage_backend_test_utils.scm import (
    FakeRepository,
    LoopbackGithub,
    LoopbackGitlab,
    RateLimit,
    start_loopback_github_api,
    start_loopback_gitlab,
)


async def test_github_privacy_etags_and_rate_limits() -> None:
    async with start_loopback_github_api(LoopbackGithub()) as github:
        github.add_repository(
            FakeRepository("acme", "web", {"main": {"a.yaml": b"a"}}, private=True)
        )
        github.tokens["pat"] = {"acme"}
        github.tokens["other"] = {"else"}
        url = f"{github.api_base_url}/repos/acme/web/contents/a.yaml?ref=main"
        raw = {"Accept": "application/vnd.github.v3.raw"}
        async with httpx.AsyncClient() as client:
            assert (await client.get(url, headers=raw)).status_code == 404
            other = await client.get(url, headers={**raw, "Authorization": "Bearer other"})
            assert other.status_code == 404
            forged = await client.get(url, headers={**raw, "Authorization": "token forged"})
            assert forged.status_code == 401
            ok = await client.get(url, headers={**raw, "Authorization": "token pat"})
            assert ok.content == b"a"
            again = await client.get(
                url,
                headers={**raw, "Authorization": "Bearer pat", "If-None-Match": ok.headers["etag"]},
            )
            assert again.status_code == 304
            github.rate_limit(RateLimit(count=1, status=403, reset_in=30))
            limited = await client.get(url, headers={**raw, "Authorization": "Bearer pat"})
            assert limited.status_code == 403
            assert limited.headers["x-ratelimit-remaining"] == "0"
            assert int(limited.headers["x-ratelimit-reset"]) > 0
            raw_file = await client.get(f"{github.raw_base_url}/acme/web/main/a.yaml")
            assert raw_file.status_code == 404


async def test_gitlab_tree_pages_follow_link_headers() -> None:
    files = {f"dir/f{i}.yaml": b"x" for i in range(45)}
    async with start_loopback_gitlab(LoopbackGitlab()) as gitlab:
        gitlab.add_project(FakeRepository("grp", "proj", {"main": files}))
        url: str | None = (
            f"{gitlab.api_base_url}/projects/grp%2Fproj/repository/tree"
            "?ref=main&recursive=true&per_page=20"
        )
        seen: list[str] = []
        async with httpx.AsyncClient() as client:
            while url:
                response = await client.get(url)
                assert response.status_code == 200
                seen += [item["path"] for item in response.json() if item["type"] == "blob"]
                url = response.links.get("next", {}).get("url")
            gitlab.rate_limit(RateLimit(count=1, status=429, retry_after=7))
            limited = await client.get(f"{gitlab.api_base_url}/projects/grp%2Fproj")
        assert sorted(seen) == sorted(files)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "7"
