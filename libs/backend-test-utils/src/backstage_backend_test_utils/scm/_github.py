"""A loopback GitHub (Enterprise Server form): the REST endpoints the URL reader and GitHub
App credentials use, on one port of 127.0.0.1.

Under `/api/v3`: `repos/{o}/{r}`, `.../contents/{path}?ref=` (raw with
`Accept: application/vnd.github.v3.raw`, ETag, 304 on `If-None-Match`),
`.../commits/{ref}/status`, `.../tarball/{ref}`, `.../git/trees/{sha}?recursive=true`,
`.../git/blobs/{sha}`, `app/installations` (paged, `Link`), `app/installations/{id}`,
`POST app/installations/{id}/access_tokens`, `orgs/{org}/installation`,
`repos/{o}/{r}/installation`, `installation/repositories` (paged); raw files under
`/raw/{o}/{r}/{ref}/{path}`. Private repositories answer 404 unless the token covers them
(a personal token for the owner, or an installation token of the owner's installation that
includes the repository); an unknown token is 401. App endpoints need an RS256 App JWT
signed with the App's key. `rate_limit(...)` refuses the next requests as GitHub does.
Further endpoints (GraphQL) plug in through `handlers`.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from backstage_backend_test_utils.scm._asgi import FakeRequest, FakeResponse
from backstage_backend_test_utils.scm._common import ServerState, paged, serve
from backstage_backend_test_utils.scm._repos import FakeRepository, blob_sha, make_tarball

__all__ = [
    "FakeGithubApp",
    "FakeGithubInstallation",
    "LoopbackGithub",
    "start_loopback_github_api",
]

_TOKEN_LIFETIME = 3600

ExtraHandler = Callable[[FakeRequest], Awaitable[FakeResponse | None]]


@dataclass
class FakeGithubInstallation:
    """An installation of an App on an account.

    Args:
        id: the installation id.
        account: the user or organisation login.
        repository_selection: `all`, or `selected` (then only `repositories`).
        repositories: the repository names of a `selected` installation.
        suspended: a suspended installation mints no tokens.
    """

    id: int
    account: str
    repository_selection: str = "all"
    repositories: list[str] = field(default_factory=list)
    suspended: bool = False
    target_type: str = "Organization"


@dataclass
class FakeGithubApp:
    """A GitHub App with its own RSA key; `private_key_pem` goes into `apps[].privateKey`."""

    app_id: int
    installations: list[FakeGithubInstallation] = field(default_factory=list)
    private_key_pem: str = ""
    public_key_pem: str = ""
    client_id: str = "Iv1.loopback"
    client_secret: str = "loopback-secret"

    def __post_init__(self) -> None:
        if not self.private_key_pem:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.private_key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            self.public_key_pem = (
                key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode()
            )

    def config(self, **extra: Any) -> dict[str, Any]:
        """The `integrations.github[].apps[]` entry for this App."""
        return {
            "appId": self.app_id,
            "privateKey": self.private_key_pem,
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            **extra,
        }


@dataclass
class _IssuedToken:
    installation: FakeGithubInstallation
    expires_at: float


@dataclass
class LoopbackGithub(ServerState):
    """The loopback GitHub's data; change it while the server runs."""

    repositories: dict[str, FakeRepository] = field(default_factory=dict)
    tokens: dict[str, set[str] | None] = field(default_factory=dict)
    """Personal tokens: token -> owners (lower case) it reads privately; None: all."""
    apps: dict[int, FakeGithubApp] = field(default_factory=dict)
    issued: dict[str, _IssuedToken] = field(default_factory=dict)
    truncate_trees: bool = False
    """Answer every recursive tree as truncated (readers then use the tarball)."""
    token_lifetime: float = _TOKEN_LIFETIME
    handlers: list[ExtraHandler] = field(default_factory=list)
    """Tried first, in order; the first response that is not None is sent."""

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}/api/v3"

    @property
    def raw_base_url(self) -> str:
        return f"{self.base_url}/raw"

    def integration_config(self, **extra: Any) -> dict[str, Any]:
        """An `integrations.github[]` entry for this server."""
        return {
            "host": self.host,
            "apiBaseUrl": self.api_base_url,
            "rawBaseUrl": self.raw_base_url,
            **extra,
        }

    def add_repository(self, repository: FakeRepository) -> FakeRepository:
        if not repository.id:
            repository.id = len(self.repositories) + 1
        self.repositories[repository.full_name.lower()] = repository
        return repository

    def add_app(self, app: FakeGithubApp) -> FakeGithubApp:
        self.apps[app.app_id] = app
        return app

    def blob_url(self, owner: str, name: str, path: str, ref: str = "main") -> str:
        return f"{self.base_url}/{owner}/{name}/blob/{ref}/{path}"

    # -- access ----------------------------------------------------------------------------

    def can_read(self, token: str | None, repository: FakeRepository) -> bool:
        """Whether `token` (None: anonymous) may read `repository`."""
        if not repository.private:
            return True
        if token is None:
            return False
        if token in self.tokens:
            owners = self.tokens[token]
            return owners is None or repository.owner.lower() in owners
        issued = self.issued.get(token)
        if issued is None or issued.expires_at < time.time():
            return False
        installation = issued.installation
        if installation.account.lower() != repository.owner.lower():
            return False
        return installation.repository_selection == "all" or (
            repository.name in installation.repositories
        )

    def known_token(self, token: str) -> bool:
        issued = self.issued.get(token)
        return token in self.tokens or (issued is not None and issued.expires_at >= time.time())

    def app_of(self, request: FakeRequest) -> FakeGithubApp | None:
        """The App whose valid JWT authorises `request`, or None."""
        token = request.bearer()
        if not token:
            return None
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            app = self.apps.get(int(unverified.get("iss", 0)))
            if app is None:
                return None
            jwt.decode(
                token,
                app.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["exp", "iat", "iss"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return app


async def _handle(state: LoopbackGithub, request: FakeRequest) -> FakeResponse:
    for handler in state.handlers:
        response = await handler(request)
        if response is not None:
            return response
    limited = state.record(request)
    if limited is not None:
        return limited
    segments = request.segments
    if segments[:1] == ["raw"]:
        return _raw(state, request, segments[1:])
    if segments[:2] != ["api", "v3"]:
        return FakeResponse(404, b"Not Found")
    rest = segments[2:]
    token = request.bearer()
    if rest[:1] in (["app"], ["orgs"]) or rest[-1:] == ["installation"]:
        return _app_routes(state, request, rest)
    if token is not None and not state.known_token(token):
        return FakeResponse.json({"message": "Bad credentials"}, 401)
    if rest[:2] == ["installation", "repositories"]:
        return _installation_repositories(state, request, token)
    if len(rest) >= 3 and rest[0] == "repos":
        return _repo_routes(state, request, token, rest)
    return FakeResponse.json({"message": "Not Found"}, 404)


def _not_found() -> FakeResponse:
    return FakeResponse.json({"message": "Not Found"}, 404)


def _repo_json(state: LoopbackGithub, repo: FakeRepository) -> dict[str, Any]:
    api = f"{state.api_base_url}/repos/{repo.full_name}"
    return {
        "id": repo.id,
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "visibility": "private" if repo.private else "public",
        "html_url": f"{state.base_url}/{repo.full_name}",
        "default_branch": repo.default_branch,
        "archived": repo.archived,
        "fork": repo.fork,
        "topics": repo.topics,
        "owner": {"login": repo.owner},
        "archive_url": api + "/{archive_format}{/ref}",
        "trees_url": api + "/git/trees{/sha}",
    }


def _repo_routes(
    state: LoopbackGithub, request: FakeRequest, token: str | None, rest: list[str]
) -> FakeResponse:
    repo = state.repositories.get(f"{rest[1]}/{rest[2]}".lower())
    if repo is None or not state.can_read(token, repo):
        return _not_found()
    action = rest[3:]
    if not action:
        return FakeResponse.json(_repo_json(state, repo))
    if action[0] == "contents":
        return _contents(state, request, repo, "/".join(action[1:]))
    if action[0] == "commits" and len(action) == 3 and action[2] == "status":
        files = repo.files(action[1])
        if files is None:
            return _not_found()
        branch = action[1] if action[1] in repo.branches else None
        sha = repo.commit_sha(branch) if branch else action[1]
        return FakeResponse.json(
            {
                "state": "pending",
                "sha": sha,
                "total_count": 0,
                "statuses": [],
                "repository": _repo_json(state, repo),
            }
        )
    if action[0] == "tarball" and len(action) == 2:
        files = repo.files(action[1])
        if files is None:
            return _not_found()
        top = f"{repo.owner}-{repo.name}-{action[1][:7]}"
        return FakeResponse(200, make_tarball(top, files), {"content-type": "application/x-gzip"})
    if action[:2] == ["git", "trees"] and len(action) == 3:
        return _tree(state, request, repo, action[2])
    if action[:2] == ["git", "blobs"] and len(action) == 3:
        return _blob(repo, action[2])
    return _not_found()


def _contents(
    state: LoopbackGithub, request: FakeRequest, repo: FakeRepository, path: str
) -> FakeResponse:
    files = repo.files(request.query.get("ref") or repo.default_branch)
    if files is None or path not in files:
        return _not_found()
    content = files[path]
    etag = f'"{blob_sha(content)}"'
    if "raw" in request.headers.get("accept", ""):
        response = FakeResponse(200, content, {"content-type": "application/vnd.github.v3.raw"})
    else:
        response = FakeResponse.json(
            {
                "type": "file",
                "path": path,
                "sha": blob_sha(content),
                "encoding": "base64",
                "content": base64.b64encode(content).decode(),
            }
        )
    return state.conditional(request, etag, response)


def _tree(
    state: LoopbackGithub, request: FakeRequest, repo: FakeRepository, sha: str
) -> FakeResponse:
    files = repo.files(sha)
    if files is None:
        return _not_found()
    items: list[dict[str, Any]] = []
    directories: set[str] = set()
    for path in sorted(files):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            directories.add("/".join(parts[:depth]))
        blob = blob_sha(files[path])
        items.append(
            {
                "path": path,
                "mode": "100644",
                "type": "blob",
                "sha": blob,
                "size": len(files[path]),
                "url": f"{state.api_base_url}/repos/{repo.full_name}/git/blobs/{blob}",
            }
        )
    items += [
        {"path": d, "mode": "040000", "type": "tree", "sha": "0" * 40} for d in sorted(directories)
    ]
    if request.query.get("recursive") not in ("true", "1"):
        items = [item for item in items if "/" not in item["path"]]
    truncated = state.truncate_trees
    return FakeResponse.json(
        {"sha": sha, "tree": [] if truncated else items, "truncated": truncated}
    )


def _blob(repo: FakeRepository, sha: str) -> FakeResponse:
    for files in repo.branches.values():
        for content in files.values():
            if blob_sha(content) == sha:
                return FakeResponse.json(
                    {
                        "sha": sha,
                        "size": len(content),
                        "encoding": "base64",
                        "content": base64.encodebytes(content).decode(),
                    }
                )
    return _not_found()


def _raw(state: LoopbackGithub, request: FakeRequest, rest: list[str]) -> FakeResponse:
    if len(rest) < 4:
        return FakeResponse(404, b"404: Not Found")
    repo = state.repositories.get(f"{rest[0]}/{rest[1]}".lower())
    token = request.bearer()
    if repo is None or not state.can_read(token, repo):
        return FakeResponse(404, b"404: Not Found")
    files = repo.files(rest[2])
    path = "/".join(rest[3:])
    if files is None or path not in files:
        return FakeResponse(404, b"404: Not Found")
    return state.conditional(
        request,
        f'"{blob_sha(files[path])}"',
        FakeResponse(200, files[path], {"content-type": "text/plain; charset=utf-8"}),
    )


def _installation_json(app: FakeGithubApp, installation: FakeGithubInstallation) -> dict[str, Any]:
    return {
        "id": installation.id,
        "app_id": app.app_id,
        "account": {"login": installation.account, "type": installation.target_type},
        "target_type": installation.target_type,
        "repository_selection": installation.repository_selection,
        "suspended_by": {"login": "admin"} if installation.suspended else None,
    }


def _app_routes(state: LoopbackGithub, request: FakeRequest, rest: list[str]) -> FakeResponse:
    app = state.app_of(request)
    if app is None:
        return FakeResponse.json({"message": "A JSON web token could not be decoded"}, 401)
    by_id = {i.id: i for i in app.installations}
    if rest == ["app", "installations"]:
        items = [_installation_json(app, i) for i in app.installations]
        page, headers = paged(state, request, items)
        return FakeResponse.json(page, headers=headers)
    if rest[:2] == ["app", "installations"] and len(rest) >= 3 and rest[2].isdigit():
        installation = by_id.get(int(rest[2]))
        if installation is None:
            return _not_found()
        if len(rest) == 3 and request.method == "GET":
            return FakeResponse.json(_installation_json(app, installation))
        if rest[3:] == ["access_tokens"] and request.method == "POST":
            if installation.suspended:
                return FakeResponse.json({"message": "This installation has been suspended"}, 403)
            token = "ghs_" + secrets.token_hex(16)
            expires = time.time() + state.token_lifetime
            state.issued[token] = _IssuedToken(installation, expires)
            body: dict[str, Any] = {
                "token": token,
                "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
                "repository_selection": installation.repository_selection,
            }
            return FakeResponse.json(body, 201)
    account = None
    by_org = rest[:1] == ["orgs"] and rest[2:] == ["installation"]
    if by_org or (rest[:1] == ["repos"] and rest[3:] == ["installation"]):
        account = rest[1]
    if account is not None:
        for installation in app.installations:
            if installation.account.lower() == account.lower():
                return FakeResponse.json(_installation_json(app, installation))
    return _not_found()


def _installation_repositories(
    state: LoopbackGithub, request: FakeRequest, token: str | None
) -> FakeResponse:
    issued = state.issued.get(token or "")
    if issued is None:
        return FakeResponse.json({"message": "Bad credentials"}, 401)
    installation = issued.installation
    repos = [
        r
        for r in state.repositories.values()
        if r.owner.lower() == installation.account.lower()
        and (installation.repository_selection == "all" or r.name in installation.repositories)
    ]
    items = [_repo_json(state, r) for r in repos]
    page, headers = paged(state, request, items)
    return FakeResponse.json({"total_count": len(items), "repositories": page}, headers=headers)


@asynccontextmanager
async def start_loopback_github_api(
    state: LoopbackGithub | None = None,
) -> AsyncIterator[LoopbackGithub]:
    """Serve a loopback GitHub on a free port of 127.0.0.1 until the block ends.

    Args:
        state: the data to serve; None: an empty GitHub.
    """
    async with serve(state or LoopbackGithub(), _handle) as github:
        yield github
