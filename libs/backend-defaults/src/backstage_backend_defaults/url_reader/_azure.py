"""Reading Azure DevOps repositories (Git) through its REST API 6.0.

- `read_url`: `GET <origin>/<org>/<project>/_apis/git/repositories/<repo>/items
  ?api-version=6.0&path=<p>[&versionDescriptor.version=<ref>&versionDescriptor.versionType=
  branch|tag]`. Azure DevOps sends no ETags for items, so, as in Backstage, reads are never
  conditional. A 203 answer means the credentials were refused (an expired token).
- `read_tree`: the ref's last commit (`commits?searchCriteria.itemVersion...`, its id is the
  etag), then the items as a zip (`recursionLevel=full&download=true`, `Accept:
  application/zip`, `scopePath` for a sub-path).
- `search`: the glob in `path`; the whole repository's tree filtered by it.
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
from backstage_common.errors import InputError, NotAllowedError, NotFoundError, NotModifiedError
from backstage_integration import AzureIntegrationConfig, AzureUrl, parse_azure_url

from backstage_backend_defaults.url_reader._glob import compile_glob, has_glob
from backstage_backend_defaults.url_reader._http import Fetched
from backstage_backend_defaults.url_reader._integration_reader import IntegrationReader
from backstage_backend_defaults.url_reader._search import search_one_file, search_tree
from backstage_backend_defaults.url_reader._tree import MAX_ARCHIVE_BYTES, tree_from_zip

__all__ = ["AzureUrlReader"]

_API_VERSION = "6.0"


class AzureUrlReader(IntegrationReader[AzureIntegrationConfig]):
    """Reads the URLs of one Azure DevOps integration's host."""

    def _auth(self, parsed: AzureUrl, token: str | None) -> dict[str, str]:
        if token:
            return {"Authorization": f"Bearer {token}"}
        credential = self._integration.credential_for(parsed.organization)
        return credential.headers if credential else {}

    def _api(self, parsed: AzureUrl) -> str:
        segments = (parsed.organization, parsed.project)
        base = "/".join(quote(s, safe="") for s in segments)
        return f"{parsed.origin}/{base}/_apis/git/repositories/{quote(parsed.repo, safe='')}"

    def _version(self, parsed: AzureUrl, prefix: str) -> dict[str, str]:
        if parsed.ref is None:
            return {}
        return {f"{prefix}.version": parsed.ref, f"{prefix}.versionType": parsed.ref_type}

    async def _get(self, url: str, headers: dict[str, str], **options: Any) -> Fetched:
        fetched = await self._http.get(url, headers, **options)
        if fetched.status == 203:
            raise NotAllowedError(
                f"Azure DevOps refused the credentials for {url} (an expired or invalid "
                "personal access token)"
            )
        return fetched

    async def read_url(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified_after: datetime | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadUrlResponse:
        parsed = parse_azure_url(url)
        if not parsed.path:
            raise InputError(f"Invalid Azure DevOps URL {url}, it names no file (path=)")
        query = {
            "api-version": _API_VERSION,
            "path": f"/{parsed.path}",
            **self._version(parsed, "versionDescriptor"),
        }
        fetched = await self._get(
            f"{self._api(parsed)}/items?{urlencode(query)}", self._auth(parsed, token)
        )
        return UrlReaderServiceReadUrlResponse(fetched.data, None, fetched.last_modified_at)

    async def read_tree(
        self,
        url: str,
        *,
        etag: str | None = None,
        filter: ReadTreeFilter | None = None,
        token: str | None = None,
    ) -> UrlReaderServiceReadTreeResponse:
        parsed = parse_azure_url(url)
        auth = self._auth(parsed, token)
        query = {"api-version": _API_VERSION, **self._version(parsed, "searchCriteria.itemVersion")}
        commits = await self._http.json(f"{self._api(parsed)}/commits?{urlencode(query)}", auth)
        values = commits.get("value") if isinstance(commits, dict) else None
        if not isinstance(values, list) or not values or not isinstance(values[0], dict):
            raise NotFoundError(f"No commit found for {url}")
        commit = str(values[0].get("commitId") or "")
        if etag and etag == commit:
            raise NotModifiedError(f"{url} has not changed")
        items: dict[str, str] = {
            "recursionLevel": "full",
            "download": "true",
            "api-version": _API_VERSION,
        }
        if parsed.path:
            items["scopePath"] = f"/{parsed.path}"
        items.update(self._version(parsed, "versionDescriptor"))
        archive = await self._get(
            f"{self._api(parsed)}/items?{urlencode(items)}",
            {**auth, "Accept": "application/zip"},
            max_bytes=MAX_ARCHIVE_BYTES,
        )
        return tree_from_zip(commit, archive.data, filter, strip_top=bool(parsed.path))

    async def search(
        self, url: str, *, etag: str | None = None, token: str | None = None
    ) -> UrlReaderServiceSearchResponse:
        parsed = parse_azure_url(url)
        if not has_glob(parsed.path):
            return await search_one_file(self.read_url, url, etag, token)
        matches = compile_glob(parsed.path)
        root = AzureUrl(
            parsed.origin,
            parsed.organization,
            parsed.project,
            parsed.repo,
            "",
            parsed.ref,
            parsed.ref_type,
        )
        tree = await self.read_tree(
            root.file_url("").replace("?path=/", "?path=", 1),
            etag=etag,
            filter=lambda p, _s: matches(p),
            token=token,
        )
        return await search_tree(tree, root.file_url)
