"""Reading GitLab (gitlab.com and self-hosted, also under a sub-path) through REST v4.

- `read_url`: `GET {base}/api/v4/projects/{enc project}/repository/files/{enc path}/raw?ref=`
  with `Authorization: Bearer`, `If-None-Match` and `If-Modified-Since`. Backstage builds
  this from the pasted URL's origin; here it is the integration's `baseUrl`, so the token
  never goes to a scheme or host the config did not name.
- `read_tree`: the project's default branch when the URL has none, the branch's last commit
  (`repository/commits?ref_name=`, its id is the etag), then `repository/archive?sha=`.
- `search`: the tree of the pattern's static prefix, filtered by the glob.
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
from backstage_integration import GitlabIntegrationConfig, GitlabUrl, parse_gitlab_url

from backstage_backend_defaults.url_reader._glob import compile_glob, has_glob
from backstage_backend_defaults.url_reader._http import conditional_headers
from backstage_backend_defaults.url_reader._integration_reader import IntegrationReader
from backstage_backend_defaults.url_reader._search import (
    json_object,
    search_one_file,
    search_tree,
)
from backstage_backend_defaults.url_reader._tree import (
    MAX_ARCHIVE_BYTES,
    ArchiveTree,
    tree_from_files,
)

__all__ = ["GitlabUrlReader"]


class GitlabUrlReader(IntegrationReader[GitlabIntegrationConfig]):
    """Reads the URLs of one GitLab integration's host."""

    def _auth(self, token: str | None) -> dict[str, str]:
        chosen = token or self._integration.token
        return {"Authorization": f"Bearer {chosen}"} if chosen else {}

    def _parse(self, url: str) -> GitlabUrl:
        return parse_gitlab_url(url, self._integration.base_url)

    def _project_api(self, parsed: GitlabUrl, api: str) -> str:
        return f"{api}/projects/{quote(parsed.project, safe='')}"

    async def read_url(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified_after: datetime | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadUrlResponse:
        parsed = self._parse(url)
        if parsed.ref is None or not parsed.path:
            raise InputError(f"Invalid GitLab URL {url}, expected .../-/blob/<ref>/<path>")
        api = f"{self._integration.base_url}/api/v4"
        target = (
            f"{self._project_api(parsed, api)}/repository/files/"
            f"{quote(parsed.path, safe='')}/raw?{urlencode({'ref': parsed.ref})}"
        )
        headers = {**self._auth(token), **conditional_headers(etag, last_modified_after)}
        fetched = await self._http.get(target, headers)
        return UrlReaderServiceReadUrlResponse(fetched.data, fetched.etag, fetched.last_modified_at)

    async def _tree(
        self,
        parsed: GitlabUrl,
        subpath: str,
        etag: str | None,
        keep: ReadTreeFilter | None,
        token: str | None,
    ) -> ArchiveTree:
        auth = self._auth(token)
        project_api = self._project_api(parsed, self._integration.api_base_url)
        branch = parsed.ref
        if branch is None:
            project = _object(await self._http.json(project_api, auth))
            branch = str(project.get("default_branch") or "")
        query: dict[str, str] = {"ref_name": branch}
        if subpath:
            query["path"] = subpath
        commits = await self._http.json(
            f"{project_api}/repository/commits?{urlencode(query)}", auth
        )
        if not isinstance(commits, list) or not commits or not isinstance(commits[0], dict):
            raise NotFoundError(f"No commit found for {branch} of {parsed.project}")
        sha = str(commits[0].get("id") or "")
        if etag and etag == sha:
            raise NotModifiedError(f"{parsed.project_url} has not changed")
        archive_query = {"sha": branch, **({"path": subpath} if subpath else {})}
        archive = await self._http.get(
            f"{project_api}/repository/archive?{urlencode(archive_query)}",
            auth,
            max_bytes=MAX_ARCHIVE_BYTES,
        )
        return tree_from_files(sha, archive.data, subpath, keep)

    async def read_tree(
        self,
        url: str,
        *,
        etag: str | None = None,
        filter: ReadTreeFilter | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadTreeResponse:
        parsed = self._parse(url)
        return await self._tree(parsed, parsed.path, etag, filter, token)

    async def search(
        self, url: str, *, etag: str | None = None, token: str | None = None
    ) -> UrlReaderServiceSearchResponse:
        parsed = self._parse(url)
        if parsed.ref is None:
            raise InputError(f"Invalid GitLab search URL {url}, expected .../-/blob/<ref>/<glob>")
        if not has_glob(parsed.path):
            return await search_one_file(self.read_url, url, etag, token)
        segments = parsed.path.split("/")
        static = []
        for segment in segments:
            if has_glob(segment):
                break
            static.append(segment)
        prefix = "/".join(static)
        matches = compile_glob(parsed.path)

        def keep(path: str, _size: int) -> bool:
            return matches(f"{prefix}/{path}" if prefix else path)

        tree = await self._tree(parsed, prefix, etag, keep, token)
        base = f"{parsed.project_url}/-/blob/{parsed.ref}/{prefix + '/' if prefix else ''}"
        return await search_tree(tree, lambda path: f"{base}{path}")


def _object(value: object) -> dict[str, Any]:
    return json_object(value, "GitLab")
