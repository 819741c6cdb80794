"""Reading Bitbucket Server (Data Center) through REST API 1.0.

- `read_url`: `GET {api}/projects/{P}/repos/{r}/raw/{path}?at={ref}`, with `If-None-Match`
  and `If-Modified-Since`.
- `read_tree`: the branch's latest commit (`branches?filterText=`, or `branches/default`
  without a ref; its first 12 characters are the etag, as Backstage's), then
  `archive?format=tgz&at=&prefix=<P>-<r>[&path=]` (the default branch from `default-branch`).
- `search`: the whole repository's tree, filtered by the glob; result URLs are browse URLs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from backstage_backend_plugin_api import (
    ReadTreeFilter,
    UrlReaderServiceReadTreeResponse,
    UrlReaderServiceReadUrlResponse,
    UrlReaderServiceSearchResponse,
)
from backstage_common.errors import InputError, NotFoundError, NotModifiedError
from backstage_integration import (
    BitbucketServerIntegrationConfig,
    BitbucketServerUrl,
    parse_bitbucket_server_url,
)

from backstage_backend_defaults.url_reader._glob import compile_glob, has_glob
from backstage_backend_defaults.url_reader._http import conditional_headers
from backstage_backend_defaults.url_reader._integration_reader import IntegrationReader
from backstage_backend_defaults.url_reader._search import (
    json_object,
    search_one_file,
    search_tree,
)
from backstage_backend_defaults.url_reader._tree import MAX_ARCHIVE_BYTES, tree_from_files

__all__ = ["BitbucketServerUrlReader"]


class BitbucketServerUrlReader(IntegrationReader[BitbucketServerIntegrationConfig]):
    """Reads the URLs of one Bitbucket Server integration's host."""

    def _auth(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else self._integration.headers

    def _repo_api(self, parsed: BitbucketServerUrl) -> str:
        project, repo = quote(parsed.project, safe=""), quote(parsed.repo, safe="")
        return f"{self._integration.api_base_url}/projects/{project}/repos/{repo}"

    async def read_url(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified_after: datetime | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadUrlResponse:
        parsed = parse_bitbucket_server_url(url)
        if not parsed.path:
            raise InputError(f"Invalid Bitbucket Server URL {url}, it names no file")
        query = f"?{urlencode({'at': parsed.ref})}" if parsed.ref else ""
        target = f"{self._repo_api(parsed)}/raw/{quote(parsed.path)}{query}"
        headers = {**self._auth(token), **conditional_headers(etag, last_modified_after)}
        fetched = await self._http.get(target, headers)
        return UrlReaderServiceReadUrlResponse(fetched.data, fetched.etag, fetched.last_modified_at)

    async def _latest_commit(self, parsed: BitbucketServerUrl, auth: dict[str, str]) -> str:
        api = self._repo_api(parsed)
        branch = parsed.branch
        if branch is None:
            default = _object(await self._http.json(f"{api}/branches/default", auth))
            return str(default.get("latestCommit") or "")
        listing = _object(
            await self._http.json(f"{api}/branches?{urlencode({'filterText': branch})}", auth)
        )
        for entry in listing.get("values") or []:
            if isinstance(entry, dict) and entry.get("displayId") == branch:
                return str(entry.get("latestCommit") or "")
        raise NotFoundError(f"Branch {branch} not found in {parsed.project}/{parsed.repo}")

    async def _default_branch(self, parsed: BitbucketServerUrl, auth: dict[str, str]) -> str:
        api = self._repo_api(parsed)
        try:
            default = _object(await self._http.json(f"{api}/default-branch", auth))
        except NotFoundError:  # servers older than 5.11
            default = _object(await self._http.json(f"{api}/branches/default", auth))
        return str(default.get("displayId") or "")

    async def read_tree(
        self,
        url: str,
        *,
        etag: str | None = None,
        filter: ReadTreeFilter | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadTreeResponse:
        parsed = parse_bitbucket_server_url(url)
        auth = self._auth(token)
        commit = (await self._latest_commit(parsed, auth))[:12]
        if etag and etag == commit:
            raise NotModifiedError(f"{url} has not changed")
        branch = parsed.branch or await self._default_branch(parsed, auth)
        query = {"format": "tgz", "at": branch, "prefix": f"{parsed.project}-{parsed.repo}"}
        if parsed.path:
            query["path"] = parsed.path
        archive = await self._http.get(
            f"{self._repo_api(parsed)}/archive?{urlencode(query)}",
            auth,
            max_bytes=MAX_ARCHIVE_BYTES,
        )
        return tree_from_files(commit, archive.data, parsed.path, filter)

    async def search(
        self, url: str, *, etag: str | None = None, token: str | None = None
    ) -> UrlReaderServiceSearchResponse:
        parsed = parse_bitbucket_server_url(url)
        if not has_glob(parsed.path):
            return await search_one_file(self.read_url, url, etag, token)
        matches = compile_glob(parsed.path)
        root = BitbucketServerUrl(parsed.origin, parsed.project, parsed.repo, parsed.ref, "")
        tree = await self.read_tree(
            root.browse_url(""), etag=etag, filter=lambda p, _s: matches(p), token=token
        )
        return await search_tree(tree, root.browse_url)


def _object(value: object) -> dict[str, Any]:
    return json_object(value, "Bitbucket Server")
