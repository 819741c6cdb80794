"""The app plugin over HTTP: the page and its config, assets, caching, compression, and every
way a request could reach a file it should not."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import brotli
import pytest
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_app_backend import app_plugin

MAIN_JS = b"console.log('main');\n" * 200
ASSET = "/static/main.0123456789ab.js"
SECRET = "s3cr3t-do-not-leak"

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <link rel="icon" href="<%= publicPath %>/favicon.ico" />
    <title><%= config.getOptionalString('app.title') ?? 'Backstage' %></title>
    <script defer src="<%= publicPath %>/static/main.0123456789ab.js"></script>
  </head>
  <body><div id="root"></div></body>
</html>
"""

BUILD_CONFIG = {
    "app": {"title": "Built title", "extensions": [{"page:catalog": {"config": {"path": "/"}}}]}
}
BUILT_PAGE = (
    '<html><head><script type="backstage.io/config">'
    + json.dumps([{"context": "app-config.yaml", "data": BUILD_CONFIG}])
    + "</script></head><body>build-time page</body></html>"
)

SCHEMA = {
    "backstageConfigSchemaVersion": 1,
    "schemas": [
        {
            "path": "core-app-api/config.schema.json",
            "value": {
                "type": "object",
                "properties": {
                    "app": {
                        "type": "object",
                        "properties": {
                            "baseUrl": {"type": "string", "visibility": "frontend"},
                            "title": {"type": "string", "visibility": "frontend"},
                            "routes": {
                                "type": "object",
                                "properties": {
                                    "bindings": {"type": "object", "deepVisibility": "frontend"}
                                },
                            },
                        },
                    },
                    "backend": {
                        "type": "object",
                        "properties": {
                            "baseUrl": {"type": "string", "visibility": "frontend"},
                        },
                    },
                    "organization": {
                        "type": "object",
                        "properties": {"name": {"type": "string", "visibility": "frontend"}},
                    },
                    "auth": {
                        "type": "object",
                        "properties": {
                            "environment": {"type": "string", "visibility": "frontend"},
                            "providers": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "object",
                                    "visibility": "frontend",
                                    "additionalProperties": True,
                                },
                            },
                        },
                    },
                },
            },
        }
    ],
}


def make_bundle(root: Path) -> Path:
    """A bundle shaped as the frontend build writes it, with precompressed variants."""
    dist = root / "dist"
    static = dist / "static"
    static.mkdir(parents=True)
    (static / "main.0123456789ab.js").write_bytes(MAIN_JS)
    (static / "main.0123456789ab.js.br").write_bytes(brotli.compress(MAIN_JS))
    (static / "main.0123456789ab.js.gz").write_bytes(gzip.compress(MAIN_JS))
    (static / "plain.js").write_bytes(b"1;")
    (static / ".hidden.js").write_bytes(b"hidden")
    (dist / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (dist / "robots.txt").write_bytes(b"User-agent: *\n")
    (dist / "index.html").write_text(BUILT_PAGE)
    (dist / "index.html.tmpl").write_text(TEMPLATE)
    (dist / ".config-schema.json").write_text(json.dumps(SCHEMA))
    outside = root / "outside-secret.txt"
    outside.write_text(SECRET)
    (static / "escape.0123456789ab.js").symlink_to(outside)
    return dist


def base_config(dist: Path, **app: Any) -> dict[str, Any]:
    return {
        "app": {"bundlePath": str(dist), "title": "Example Portal", **app},
        "backend": {
            "baseUrl": "http://backstage.example.com",
            "auth": {"keys": [{"secret": SECRET}]},
            "database": {"client": "pg", "connection": {"password": SECRET}},
        },
        "organization": {"name": "Example Corp"},
        "auth": {
            "environment": "development",
            "providers": {
                "guest": {},
                "github": {"development": {"clientId": "id-1", "clientSecret": SECRET}},
            },
        },
    }


@asynccontextmanager
async def serving(config: dict[str, Any]) -> AsyncIterator[TestBackend]:
    async with start_test_backend(features=[app_plugin()], config=config) as backend:
        yield backend


def injected(page: str) -> list[dict[str, Any]]:
    match = re.search(r'<script type="backstage.io/config">(.*?)</script>', page, re.S)
    assert match is not None, page
    configs: list[dict[str, Any]] = json.loads(match.group(1))
    return configs


async def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """A request for `target` exactly as written (HTTP clients resolve dot segments)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    return make_bundle(tmp_path)


async def test_every_path_outside_api_gets_the_page_never_cached(dist: Path) -> None:
    async with serving(base_config(dist)) as backend:
        answers = {
            path: await backend.client.get(path)
            for path in ("/", "/catalog/default/component/x", "/foo.js", "/index.html", "/api/app")
        }
    for path, response in answers.items():
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-store, max-age=0"
        assert response.headers["x-frame-options"] == "DENY"
        assert "<title>Example Portal</title>" in response.text
        assert 'src="/static/main.0123456789ab.js"' in response.text
        assert "<%" not in response.text  # rendered, never the template itself
        assert "build-time page" not in response.text


async def test_the_page_carries_only_frontend_config_and_never_a_secret(dist: Path) -> None:
    async with serving(base_config(dist)) as backend:
        page = (await backend.client.get("/")).text
    assert SECRET not in page
    assert injected(page) == [
        # the build's own config first (lowest priority), then the running backend's
        {"context": "build:app-config.yaml", "deprecatedKeys": [], "data": BUILD_CONFIG},
        {
            "context": "app",
            "deprecatedKeys": [],
            "data": {
                "app": {"baseUrl": "http://backstage.example.com", "title": "Example Portal"},
                "backend": {"baseUrl": "http://backstage.example.com"},
                "organization": {"name": "Example Corp"},
                # provider names only: an object marked frontend is kept, empty
                "auth": {"environment": "development", "providers": {"guest": {}, "github": {}}},
            },
        },
    ]


async def test_config_cannot_break_out_of_the_config_script(dist: Path) -> None:
    title = "</script><script>alert(1)</script><!--"
    async with serving(base_config(dist, title=title)) as backend:
        page = (await backend.client.get("/")).text
    assert "<script>alert(1)" not in page
    assert "&lt;/script&gt;" in page.split("<title>", 1)[1]  # escaped in the HTML title
    assert injected(page)[-1]["data"]["app"]["title"] == title  # and intact in the config


async def test_hashed_assets_are_immutable_and_sent_precompressed(dist: Path) -> None:
    async with serving(base_config(dist)) as backend:
        br = await backend.client.get(ASSET, headers={"accept-encoding": "gzip, br"})
        gz = await backend.client.get(ASSET, headers={"accept-encoding": "gzip, br;q=0"})
        plain = await backend.client.get(ASSET, headers={"accept-encoding": "identity"})
        head = await backend.client.head(ASSET, headers={"accept-encoding": "br"})
    for response in (br, gz, plain, head):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert br.headers["content-encoding"] == "br"
    assert gz.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    # httpx decodes gzip (and brotli when it can); whatever it did, the bytes are the file's
    assert gz.content == MAIN_JS
    assert plain.content == MAIN_JS
    assert head.content == b""
    assert head.headers["content-encoding"] == "br"


async def test_a_matching_etag_is_304(dist: Path) -> None:
    async with serving(base_config(dist)) as backend:
        first = await backend.client.get(ASSET)
        again = await backend.client.get(ASSET, headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_unhashed_and_root_files_keep_short_cache_lives(dist: Path) -> None:
    async with serving(base_config(dist)) as backend:
        plain = await backend.client.get("/static/plain.js")
        icon = await backend.client.get("/favicon.ico")
    assert plain.headers["cache-control"] == "public, max-age=1209600"
    assert icon.headers["cache-control"] == "public, max-age=0"
    assert icon.content == b"\x00\x00\x01\x00"


async def test_a_missing_asset_is_404_never_the_page(dist: Path) -> None:
    async with serving(base_config(dist)) as backend:
        missing = await backend.client.get("/static/main.ffffffffffff.js")
        directory = await backend.client.get("/static")
    for response in (missing, directory):
        assert response.status_code == 404
        assert response.json()["error"]["name"] == "NotFoundError"
        assert "<html" not in response.text


async def test_no_path_reaches_a_file_outside_the_bundle_or_a_dotfile(dist: Path) -> None:
    async with serving(base_config(dist)) as backend:
        port = int(backend.base_url.rsplit(":", 1)[1])
        traversal = {
            target: await raw_get(port, target)
            for target in (
                "/static/../../outside-secret.txt",
                "/static/%2e%2e/%2e%2e/outside-secret.txt",
                "/static/..%2f..%2foutside-secret.txt",
                "/static/%2E%2E%2F%2E%2E%2Foutside-secret.txt",
                "/../outside-secret.txt",
                "/api/app/static/../../outside-secret.txt",
            )
        }
        link = await backend.client.get("/static/escape.0123456789ab.js")
        hidden = await backend.client.get("/static/.hidden.js")
        schema = await backend.client.get("/.config-schema.json")
        template = await backend.client.get("/index.html.tmpl")
        backslash = await backend.client.get("/static/..%5C..%5Coutside-secret.txt")
        nul = await backend.client.get("/static/main.0123456789ab.js%00.txt")
    for target, (status, body) in traversal.items():
        assert status == 400, target
        assert SECRET.encode() not in body
    assert link.status_code == 404  # a symlink out of the bundle is not part of it
    assert hidden.status_code == 404
    for response in (link, hidden, backslash, nul):
        assert SECRET not in response.text
        assert response.status_code == 404
    # outside /static a dotfile or the template is just another app route: the page
    assert "backstageConfigSchemaVersion" not in schema.text
    assert "<%" not in template.text
    assert schema.headers["content-type"].startswith("text/html")


async def test_the_public_path_of_app_base_url_prefixes_the_app(dist: Path) -> None:
    config = base_config(dist, baseUrl="http://example.com/backstage/")
    async with serving(config) as backend:
        page = await backend.client.get("/backstage/catalog")
        asset = await backend.client.get("/backstage" + ASSET)
    assert 'src="/backstage/static/main.0123456789ab.js"' in page.text
    assert 'href="/backstage/favicon.ico"' in page.text
    assert asset.status_code == 200
    assert asset.content == MAIN_JS


async def test_config_injection_can_be_turned_off(dist: Path) -> None:
    async with serving(base_config(dist, disableConfigInjection=True)) as backend:
        page = (await backend.client.get("/")).text
    # only the bundle's own build-time config: nothing of the running backend's
    assert [c["data"] for c in injected(page)] == [BUILD_CONFIG]
    assert "<title>Built title</title>" in page
    assert "backstage.example.com" not in page


async def test_without_a_bundle_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    async with serving({"app": {"bundlePath": str(tmp_path / "nothing")}}) as backend:
        response = await backend.client.get("/")
    assert response.status_code == 404
    assert "backstage-py app build" in response.json()["error"]["message"]
