"""GitHub App installation tokens against the loopback GitHub: minted with an RS256 App
JWT, kept per organisation in a shared cache, re-minted before expiry, and the fallbacks
(allowed owners, selected repositories, suspended installations, the configured token)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from backstage_backend_test_utils import InMemoryCache, InMemoryCacheStore
from backstage_backend_test_utils.scm import (
    FakeGithubApp,
    FakeGithubInstallation,
    FakeRepository,
    LoopbackGithub,
    start_loopback_github_api,
)
from backstage_common.config import Config
from backstage_common.errors import InputError, NotAllowedError
from backstage_integration import GithubCredentialsProvider, ScmIntegrations


@pytest.fixture
async def github() -> AsyncIterator[LoopbackGithub]:
    async with start_loopback_github_api(LoopbackGithub()) as server:
        server.add_repository(FakeRepository("acme", "web", {"main": {}}, private=True))
        server.add_repository(FakeRepository("acme", "infra", {"main": {}}, private=True))
        yield server


def provider(
    github: LoopbackGithub,
    client: httpx.AsyncClient,
    apps: list[dict[str, Any]],
    cache: InMemoryCache | None = None,
    clock: Any = time.time,
    token: str | None = None,
) -> GithubCredentialsProvider:
    entry = github.integration_config(apps=apps, **({"token": token} if token else {}))
    registry = ScmIntegrations.from_config(Config.from_data({"integrations": {"github": [entry]}}))
    return GithubCredentialsProvider(registry.github, client, cache, clock=clock)


def minted(github: LoopbackGithub) -> list[str]:
    return [path for method, path in github.requests if method == "POST"]


async def test_installation_token_is_minted_with_an_app_jwt_and_reads_private_repos(
    github: LoopbackGithub,
) -> None:
    app = github.add_app(FakeGithubApp(42, [FakeGithubInstallation(7, "Acme")]))
    async with httpx.AsyncClient() as client:
        credentials = await provider(github, client, [app.config()]).get_credentials(
            f"{github.base_url}/acme/web/blob/main/catalog-info.yaml"
        )
        assert credentials.type == "app"
        assert credentials.headers == {"Authorization": f"Bearer {credentials.token}"}
        # the App JWT sent to GitHub: RS256, iss = appId, backdated 30 s, ten minutes
        listing = github.request_headers[0]["authorization"].split(" ", 1)[1]
        claims = jwt.decode(listing, app.public_key_pem, algorithms=["RS256"])
        assert claims["iss"] == "42"
        assert claims["exp"] - claims["iat"] == 600
        assert claims["iat"] <= time.time() - 29
        repo = await client.get(
            f"{github.api_base_url}/repos/acme/web", headers=credentials.headers
        )
        assert repo.status_code == 200
    assert minted(github) == ["/api/v3/app/installations/7/access_tokens"]


async def test_tokens_are_shared_through_the_cache_and_refreshed_before_expiry(
    github: LoopbackGithub,
) -> None:
    app = github.add_app(FakeGithubApp(42, [FakeGithubInstallation(7, "acme")]))
    # tokens that live ten minutes and two seconds: renewed two seconds from now
    github.token_lifetime = 602
    store = InMemoryCacheStore()
    url = f"{github.base_url}/acme/web/blob/main/x.yaml"
    async with httpx.AsyncClient() as client:
        first = provider(github, client, [app.config()], InMemoryCache(store))
        token = (await first.get_credentials(url)).token
        # the same organisation, another repository: the same token
        other_repo = f"{github.base_url}/acme/infra/blob/main/x.yaml"
        assert (await first.get_credentials(other_repo)).token == token
        # another replica of the plugin (its own provider, the same cache): no new token
        second = provider(github, client, [app.config()], InMemoryCache(store))
        assert (await second.get_credentials(url)).token == token
        assert len(minted(github)) == 1
        # less than ten minutes left: a new one
        await asyncio.sleep(2.5)
        renewed = (await first.get_credentials(url)).token
        assert renewed != token
        assert len(minted(github)) == 2
        # the other replica's own copy has run out too: it takes the renewed one
        assert (await second.get_credentials(url)).token == renewed
        assert len(minted(github)) == 2


async def test_owner_outside_allowed_installation_owners_falls_back_to_the_token(
    github: LoopbackGithub,
) -> None:
    app = github.add_app(FakeGithubApp(42, [FakeGithubInstallation(7, "acme")]))
    config = app.config(allowedInstallationOwners=["someone-else"])
    async with httpx.AsyncClient() as client:
        credentials = await provider(github, client, [config], token="pat").get_credentials(
            f"{github.base_url}/acme/web"
        )
    assert (credentials.type, credentials.token) == ("token", "pat")
    assert minted(github) == []


async def test_no_installation_for_the_owner_falls_back_to_anonymous(
    github: LoopbackGithub,
) -> None:
    app = github.add_app(FakeGithubApp(42, [FakeGithubInstallation(7, "other")]))
    async with httpx.AsyncClient() as client:
        credentials = await provider(github, client, [app.config()]).get_credentials(
            f"{github.base_url}/acme/web"
        )
    assert credentials.type is None
    assert credentials.headers == {}


async def test_selected_repositories_refuse_other_repositories(github: LoopbackGithub) -> None:
    installation = FakeGithubInstallation(7, "acme", "selected", ["web"])
    app = github.add_app(FakeGithubApp(42, [installation]))
    async with httpx.AsyncClient() as client:
        chosen = provider(github, client, [app.config()])
        assert (await chosen.get_credentials(f"{github.base_url}/acme/web")).type == "app"
        with pytest.raises(NotAllowedError, match="does not have access to a repository"):
            await chosen.get_credentials(f"{github.base_url}/acme/infra")


async def test_suspended_installation_is_an_error(github: LoopbackGithub) -> None:
    app = github.add_app(FakeGithubApp(42, [FakeGithubInstallation(7, "acme", suspended=True)]))
    async with httpx.AsyncClient() as client:
        with pytest.raises(NotAllowedError, match="suspended"):
            await provider(github, client, [app.config()]).get_credentials(
                f"{github.base_url}/acme/web"
            )


async def test_a_forged_app_key_gets_no_token(github: LoopbackGithub) -> None:
    real = github.add_app(FakeGithubApp(42, [FakeGithubInstallation(7, "acme")]))
    forged = FakeGithubApp(42)  # same id, another key
    async with httpx.AsyncClient() as client:
        with pytest.raises(NotAllowedError):
            await provider(github, client, [forged.config()]).get_credentials(
                f"{github.base_url}/acme/web"
            )
    assert real.installations
    assert minted(github) == []


async def test_installations_are_listed_page_by_page(github: LoopbackGithub) -> None:
    installations = [FakeGithubInstallation(100 + i, f"org{i}") for i in range(150)]
    app = github.add_app(FakeGithubApp(42, installations))
    async with httpx.AsyncClient() as client:
        credentials = await provider(github, client, [app.config()]).get_credentials(
            f"{github.base_url}/org149/repo"
        )
    assert credentials.type == "app"
    pages = [p for m, p in github.requests if p.startswith("/api/v3/app/installations?")]
    assert len(pages) == 2


async def test_unknown_host_is_an_input_error(github: LoopbackGithub) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(InputError, match="no GitHub integration"):
            await provider(github, client, []).get_credentials("https://elsewhere.example/a/b")


async def test_public_access_app_lends_its_first_installation(github: LoopbackGithub) -> None:
    github.add_repository(FakeRepository("stranger", "lib", {"main": {}}))
    app = github.add_app(FakeGithubApp(42, [FakeGithubInstallation(7, "acme")]))
    async with httpx.AsyncClient() as client:
        public = provider(github, client, [app.config(publicAccess=True)])
        credentials = await public.get_credentials(f"{github.base_url}/stranger/lib")
        private = provider(github, client, [app.config()])
        without = await private.get_credentials(f"{github.base_url}/stranger/lib")
    assert credentials.type == "app"
    assert without.type is None
