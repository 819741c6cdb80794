"""Reading GitHub (github.com and Enterprise) through its REST API and raw host.

- `read_url`: `GET {api}/repos/{o}/{r}/contents/{path}?ref={ref}` when there is a token (or
  no raw host), else `GET {raw}/{o}/{r}/{ref}/{path}`; `Accept: application/vnd.github.v3.raw`,
  `If-None-Match` / `If-Modified-Since` for what the caller holds.
- `read_tree`: the ref's commit from `commits/{ref}/status` (its sha is the etag, checked
  before any download), then the `archive_url` tarball of that sha.
- `search`: the same sha, then the recursive git tree filtered by the glob; contents are read
  lazily from each blob. A truncated tree falls back to the tarball. A URL without a glob,
  read with credentials and an ETag, asks for the branch's commit first (one lookup for the
  files asked for together): a file whose ETag was confirmed at that commit is not modified
  without a request of its own; otherwise it is read conditionally.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import quote

from backstage_backend_plugin_api import (
    ReadTreeFilter,
    UrlReaderServiceReadTreeResponse,
    UrlReaderServiceReadUrlResponse,
    UrlReaderServiceSearchResponse,
    UrlReaderServiceSearchResponseFile,
)
from backstage_common.errors import InputError, NotFoundError, NotModifiedError
from backstage_integration import (
    GithubCredentialsProvider,
    GithubIntegrationConfig,
    GithubUrl,
    parse_github_url,
)

from backstage_backend_defaults.url_reader._commits import CommitLookups, ConfirmedEtags
from backstage_backend_defaults.url_reader._glob import compile_glob, has_glob
from backstage_backend_defaults.url_reader._http import ReaderHttp, conditional_headers
from backstage_backend_defaults.url_reader._integration_reader import IntegrationReader
from backstage_backend_defaults.url_reader._search import (
    json_object,
    search_one_file,
    search_tree,
)
from backstage_backend_defaults.url_reader._tree import MAX_ARCHIVE_BYTES, tree_from_files

__all__ = ["GithubUrlReader"]

_RAW = "application/vnd.github.v3.raw"


class GithubUrlReader(IntegrationReader[GithubIntegrationConfig]):
    """Reads the URLs of one GitHub integration's host."""

    def __init__(
        self,
        integration: GithubIntegrationConfig,
        credentials: GithubCredentialsProvider,
        http: ReaderHttp,
    ) -> None:
        """Args:
        integration: the GitHub host it reads.
        credentials: App installation tokens or the configured token per URL.
        http: the shared HTTP side (rate limits, bounded bodies).

        Raises:
            InputError: the integration has neither `apiBaseUrl` nor `rawBaseUrl`.
        """
        if integration.api_base_url is None and integration.raw_base_url is None:
            raise InputError(
                f"GitHub integration for '{integration.host}' must configure an explicit "
                "apiBaseUrl or rawBaseUrl"
            )
        super().__init__(integration, http)
        self._credentials = credentials
        self._commits = CommitLookups()
        self._confirmed = ConfirmedEtags()

    async def _auth(self, url: str, token: str | None) -> dict[str, str]:
        if token:
            return {"Authorization": f"Bearer {token}"}
        return (await self._credentials.get_credentials(url)).headers

    def _parse(self, url: str, *, need_ref: bool) -> GithubUrl:
        parsed = parse_github_url(url)
        if parsed.repo is None or (need_ref and parsed.ref is None):
            raise InputError(
                f"Invalid GitHub URL {url}, expected {self._integration.host}/<owner>/<repo>/"
                "blob/<ref>/<path>"
            )
        return parsed

    async def read_url(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified_after: datetime | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadUrlResponse:
        parsed = self._parse(url, need_ref=True)
        auth = await self._auth(url, token)
        api, raw = self._integration.api_base_url, self._integration.raw_base_url
        path = quote(parsed.path)
        if api is not None and (auth or raw is None):
            target = f"{api}/repos/{parsed.owner}/{parsed.repo}/contents/{path}?ref={parsed.ref}"
        else:
            target = f"{raw}/{parsed.owner}/{parsed.repo}/{parsed.ref}/{path}"
        headers = {**auth, **conditional_headers(etag, last_modified_after), "Accept": _RAW}
        fetched = await self._http.get(target, headers)
        return UrlReaderServiceReadUrlResponse(fetched.data, fetched.etag, fetched.last_modified_at)

    async def _commit(self, parsed: GithubUrl, auth: dict[str, str]) -> str:
        api = self._require_api()
        repo_api = f"{api}/repos/{parsed.owner}/{parsed.repo}"
        ref = parsed.ref
        if ref is None:
            repository = await self._http.json(repo_api, auth)
            ref = str(_object(repository).get("default_branch") or "")
        status = _object(
            await self._http.json(
                f"{repo_api}/commits/{quote(ref, safe='')}/status?per_page=0", auth
            )
        )
        sha = str(status.get("sha") or "")
        if not sha:
            raise NotFoundError(f"No commit found for {ref} of {parsed.owner}/{parsed.repo}")
        return sha

    def _require_api(self) -> str:
        if self._integration.api_base_url is None:
            raise InputError(
                f"GitHub integration for '{self._integration.host}' has no apiBaseUrl to read "
                "trees with"
            )
        return self._integration.api_base_url

    async def _tarball(self, parsed: GithubUrl, sha: str, auth: dict[str, str]) -> bytes:
        url = f"{self._require_api()}/repos/{parsed.owner}/{parsed.repo}/tarball/{sha}"
        return (await self._http.get(url, auth, max_bytes=MAX_ARCHIVE_BYTES)).data

    async def read_tree(
        self,
        url: str,
        *,
        etag: str | None = None,
        filter: ReadTreeFilter | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadTreeResponse:
        parsed = self._parse(url, need_ref=False)
        auth = await self._auth(url, token)
        sha = await self._commit(parsed, auth)
        if etag == sha:
            raise NotModifiedError(f"{url} has not changed")
        archive = await self._tarball(parsed, sha, auth)
        return tree_from_files(sha, archive, parsed.path, filter)

    async def search(
        self, url: str, *, etag: str | None = None, token: str | None = None
    ) -> UrlReaderServiceSearchResponse:
        parsed = self._parse(url, need_ref=True)
        if not has_glob(parsed.path):
            return await self._search_file(url, parsed, etag, token)
        auth = await self._auth(url, token)
        sha = await self._commit(parsed, auth)
        if etag == sha:
            raise NotModifiedError(f"{url} has not changed")
        matches = compile_glob(parsed.path)
        prefix = parsed.prefix
        # Built from the API base, never from URLs in the answer, so credentials only
        # ever go to the integration's own API host.
        repo_api = f"{self._require_api()}/repos/{parsed.owner}/{parsed.repo}"
        tree_url = f"{repo_api}/git/trees/{sha}?recursive=true"
        tree = _object(await self._http.json(tree_url, auth))
        if tree.get("truncated"):
            archive = await self._tarball(parsed, sha, auth)
            tarball = tree_from_files(sha, archive, "", lambda p, _s: matches(p))
            return await search_tree(tarball, lambda path: f"{prefix}/{path}")
        found = []
        for item in tree.get("tree") or []:
            if (
                isinstance(item, dict)
                and item.get("type") == "blob"
                and matches(str(item.get("path")))
            ):
                found.append(
                    UrlReaderServiceSearchResponseFile(
                        f"{prefix}/{item['path']}",
                        self._blob_reader(f"{repo_api}/git/blobs/{item.get('sha')}", auth),
                    )
                )
        return UrlReaderServiceSearchResponse(found, sha)

    async def _search_file(
        self, url: str, parsed: GithubUrl, etag: str | None, token: str | None
    ) -> UrlReaderServiceSearchResponse:
        auth = await self._auth(url, token)
        # Anonymous API requests have a small rate limit of their own: those read as before.
        if not etag or not auth or self._integration.api_base_url is None:
            return await search_one_file(self.read_url, url, etag, token)
        key = (parsed.owner, parsed.repo, parsed.ref, auth.get("Authorization"))
        try:
            sha = await self._commits.sha(key, lambda: self._commit(parsed, auth))
        except NotFoundError:  # no such repository or branch: no such file either
            return UrlReaderServiceSearchResponse([], "")
        if self._confirmed.unchanged(url, sha, etag):
            raise NotModifiedError(f"{url} has not changed")
        try:
            response = await search_one_file(self.read_url, url, etag, token)
        except NotModifiedError:
            self._confirmed.confirm(url, sha, etag)
            raise
        if response.etag:
            self._confirmed.confirm(url, sha, response.etag)
        return response

    def _blob_reader(self, url: str, auth: dict[str, str]) -> Any:
        http = self._http

        async def content() -> bytes:
            blob = _object(await http.json(url, auth))
            return base64.b64decode(str(blob.get("content") or ""))

        return content


def _object(value: object) -> dict[str, Any]:
    return json_object(value, "GitHub")
