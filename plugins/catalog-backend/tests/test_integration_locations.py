"""URL locations read through integrations (`core.urlReader`) from loopback GitHub and
GitLab servers: private files with the right credentials only, glob locations through the
provider's search, and unchanged sources answered without reading or processing again."""

from __future__ import annotations

from typing import Any

from backstage_backend_test_utils import start_test_backend
from backstage_backend_test_utils.scm import (
    FakeGithubApp,
    FakeGithubInstallation,
    FakeRepository,
    LoopbackGithub,
    LoopbackGitlab,
    RateLimit,
    start_loopback_github_api,
    start_loopback_gitlab,
)
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend.processing import UrlReaderProcessor

from ._support import Probe, probe_module


def component(name: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n"
        "  owner: team-a\n"
    )


async def names(test: Any) -> set[str]:
    response = await test.client.get("/api/catalog/entities", params={"filter": "kind=component"})
    return {e["metadata"]["name"] for e in response.json()}


async def register(test: Any, target: str) -> dict[str, Any]:
    response = await test.client.post(
        "/api/catalog/locations", json={"type": "url", "target": target}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def location_errors(test: Any, target: str) -> list[str]:
    response = await test.client.get("/api/catalog/entities", params={"filter": "kind=location"})
    for entity in response.json():
        if entity["spec"].get("target") == target:
            items = (entity.get("status") or {}).get("items") or []
            return [item["error"]["message"] for item in items]
    raise AssertionError(f"no location entity for {target}")


def private_repository() -> FakeRepository:
    return FakeRepository(
        "acme",
        "web",
        {"main": {"catalog-info.yaml": component("web").encode()}},
        private=True,
    )


async def test_private_github_file_is_read_with_the_integration_token(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    async with start_loopback_github_api(LoopbackGithub()) as github:
        github.add_repository(private_repository())
        github.tokens["pat-acme"] = {"acme"}
        target = github.blob_url("acme", "web", "catalog-info.yaml")
        config = {
            "backend": {"database": database_config},
            "integrations": {"github": [github.integration_config(token="pat-acme")]},
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            await register(test, target)
            await probe.idle()
            assert "web" in await names(test)
        # the contents API with the token, never the raw host
        reads = [path for method, path in github.requests if "catalog-info.yaml" in path]
        assert reads[0] == "/api/v3/repos/acme/web/contents/catalog-info.yaml?ref=main"
        assert github.request_headers[0]["authorization"] == "Bearer pat-acme"
        assert github.request_headers[0]["accept"] == "application/vnd.github.v3.raw"


async def test_private_github_file_is_not_read_without_credentials(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    async with start_loopback_github_api(LoopbackGithub()) as github:
        github.add_repository(private_repository())
        github.tokens["pat-other"] = {"other-org"}
        target = github.blob_url("acme", "web", "catalog-info.yaml")
        config = {
            "backend": {"database": database_config},
            "integrations": {"github": [github.integration_config(token="pat-other")]},
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            await register(test, target)
            await probe.idle()
            assert "web" not in await names(test)
            [error] = await location_errors(test, target)
            assert "no matching files found" in error
        # GitHub hides private repositories from tokens that do not cover them
        assert github.request_headers[0]["authorization"] == "Bearer pat-other"


async def test_glob_location_reads_every_match_through_a_github_app_then_only_the_commit(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    files = {f"services/s{i}/catalog-info.yaml": component(f"s{i}").encode() for i in range(5)}
    files["services/s0/README.md"] = b"not a catalog file"
    files[".github/catalog-info.yaml"] = component("hidden").encode()
    async with start_loopback_github_api(LoopbackGithub()) as github:
        repository = github.add_repository(
            FakeRepository("acme", "mono", {"main": files}, private=True)
        )
        app = github.add_app(FakeGithubApp(42, [FakeGithubInstallation(7, "acme")]))
        target = github.blob_url("acme", "mono", "**/catalog-info.yaml")
        config = {
            "backend": {"database": database_config},
            "integrations": {"github": [github.integration_config(apps=[app.config()])]},
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            await register(test, target)
            await probe.idle()
            assert await names(test) == {f"s{i}" for i in range(5)}
            minted = [p for m, p in github.requests if p.endswith("/access_tokens")]
            assert minted == ["/api/v3/app/installations/7/access_tokens"]

            github.reset_log()
            response = await test.client.post(
                "/api/catalog/refresh",
                json={"entityRef": f"location:default/{(await location_name(test, target))}"},
            )
            assert response.status_code == 200
            await probe.idle()
            # unchanged: the commit is asked for, nothing is downloaded, no token minted
            assert [p.split("?")[0] for _, p in github.requests] == [
                "/api/v3/repos/acme/mono/commits/main/status"
            ]
            assert url_reads(probe) == {"full": 1, "not_modified": 1}

            repository.set_file("services/s9/catalog-info.yaml", component("s9"))
            github.reset_log()
            await test.client.post(
                "/api/catalog/refresh",
                json={"entityRef": f"location:default/{(await location_name(test, target))}"},
            )
            await probe.idle()
            assert "s9" in await names(test)
            assert any("/git/trees/" in p for _, p in github.requests)


def url_reads(probe: Probe) -> dict[str, int]:
    [processor] = [
        reader
        for reader in probe.catalog.processing.orchestrator._readers
        if isinstance(reader, UrlReaderProcessor)
    ]
    return dict(processor.reads)


async def location_name(test: Any, target: str) -> str:
    response = await test.client.get("/api/catalog/entities", params={"filter": "kind=location"})
    for entity in response.json():
        if entity["spec"].get("target") == target:
            name: str = entity["metadata"]["name"]
            return name
    raise AssertionError(f"no location entity for {target}")


async def test_private_gitlab_file_and_glob_under_a_sub_path(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    state = LoopbackGitlab(relative_path="/gitlab")
    async with start_loopback_gitlab(state) as gitlab:
        gitlab.add_project(
            FakeRepository(
                "platform/team",
                "api",
                {
                    "main": {
                        "catalog-info.yaml": component("api").encode(),
                        "parts/a/catalog-info.yaml": component("part-a").encode(),
                        "parts/b/catalog-info.yaml": component("part-b").encode(),
                    }
                },
                private=True,
            )
        )
        gitlab.tokens["glpat"] = {"platform"}
        config = {
            "backend": {"database": database_config},
            "integrations": {"gitlab": [gitlab.integration_config(token="glpat")]},
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            await register(test, gitlab.blob_url("platform/team/api", "catalog-info.yaml"))
            await register(test, gitlab.blob_url("platform/team/api", "parts/*/catalog-info.yaml"))
            await probe.idle()
            assert await names(test) == {"api", "part-a", "part-b"}
        raw = [p for _, p in gitlab.requests if p.endswith("/raw?ref=main")]
        assert raw[0] == (
            "/gitlab/api/v4/projects/platform%2Fteam%2Fapi/repository/files/"
            "catalog-info.yaml/raw?ref=main"
        )


async def test_rate_limited_github_waits_briefly_or_fails_the_reads_fast(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    async with start_loopback_github_api(LoopbackGithub()) as github:
        github.add_repository(
            FakeRepository(
                "acme",
                "many",
                {"main": {f"s{i}.yaml": component(f"s{i}").encode() for i in range(3)}},
            )
        )
        config = {
            "backend": {"database": database_config},
            "integrations": {"github": [github.integration_config()]},
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            # a short limit: the read waits Retry-After and goes on
            github.rate_limit(RateLimit(count=1, status=429, retry_after=1))
            await register(test, github.blob_url("acme", "many", "s0.yaml"))
            await probe.idle()
            assert await names(test) == {"s0"}
            # a limit that lasts an hour: every read of the host fails at once, one request
            github.reset_log()
            github.rate_limit(RateLimit(count=1000, status=403, reset_in=3600))
            targets = [github.blob_url("acme", "many", f"s{i}.yaml") for i in (1, 2)]
            for target in targets:
                await register(test, target)
            await probe.idle()
            for target in targets:
                [error] = await location_errors(test, target)
                assert "rate limit exceeded" in error
            assert len(github.requests) == 1
