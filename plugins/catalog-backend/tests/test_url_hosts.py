"""`url` locations name their host one way only: every form that a browser (WHATWG) and
the fetcher could read as different hosts is refused, with 400 on `POST /locations` and
as a processing error for URLs found in catalog files; the reading allow list is checked
against the host the fetcher connects to."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from backstage_backend_test_utils import start_test_backend
from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import refresh_state
from backstage_plugin_catalog_backend.readers import ReadingAllowList, parse_fetch_url

from ._support import Probe, probe_module, serve_files

ALLOWED = "allowed.example.com"

TRICKS = {
    "backslash then user info": f"http://{ALLOWED}\\@evil.com/catalog.yaml",
    "backslash in the host": f"http://evil.com\\.{ALLOWED}/catalog.yaml",
    "backslash in the path": f"http://{ALLOWED}/repo\\..\\secret.yaml",
    "user info": f"http://{ALLOWED}@evil.com/catalog.yaml",
    "user and password": f"http://user:password@{ALLOWED}/catalog.yaml",
    "tab in the host": "http://allowed.exa\tmple.com/catalog.yaml",
    "newline in the host": f"http://{ALLOWED}\n.evil.com/catalog.yaml",
    "carriage return": f"http://{ALLOWED}/\rcatalog.yaml",
    "space": f"http://{ALLOWED} .evil.com/catalog.yaml",
    "NUL": f"http://{ALLOWED}\x00.evil.com/catalog.yaml",
    "percent-encoded dot": "http://allowed%2eexample.com/catalog.yaml",
    "percent-encoded letter": "http://%61llowed.example.com/catalog.yaml",
    "Unicode lookalike": "http://\u0430llowed.example.com/catalog.yaml",
    "ideographic full stop": "http://allowed\u3002example.com/catalog.yaml",
    "trailing dot": f"http://{ALLOWED}./catalog.yaml",
    "empty label": "http://allowed..example.com/catalog.yaml",
    "IPv4-mapped IPv6": "http://[::ffff:127.0.0.1]/catalog.yaml",
    "IPv4-mapped IPv6, hex": "http://[::ffff:7f00:1]/catalog.yaml",
    "IPv6 zone": "http://[fe80::1%25eth0]/catalog.yaml",
    "decimal IPv4": "http://2130706433/catalog.yaml",
    "octal IPv4": "http://0177.0.0.1/catalog.yaml",
    "hex IPv4": "http://0x7f.0.0.1/catalog.yaml",
    "short IPv4": "http://127.1/catalog.yaml",
    "leading-zero IPv4": "http://127.000.000.001/catalog.yaml",
    "no slashes": f"http:{ALLOWED}/catalog.yaml",
    "one slash": f"http:/{ALLOWED}/catalog.yaml",
    "three slashes": f"http:///{ALLOWED}/catalog.yaml",
    "two ports": f"http://{ALLOWED}:80:80/catalog.yaml",
    "port out of range": f"http://{ALLOWED}:65536/catalog.yaml",
    "no host": "http:///catalog.yaml",
    "file URL": "file:///etc/passwd",
    "ftp": f"ftp://{ALLOWED}/catalog.yaml",
}


@pytest.mark.parametrize("url", TRICKS.values(), ids=TRICKS.keys())
def test_an_ambiguous_url_is_refused(url: str) -> None:
    with pytest.raises(InputError, match="is refused"):
        parse_fetch_url(url)


@pytest.mark.parametrize(
    ("url", "authority", "path"),
    [
        (f"https://{ALLOWED}/repo/catalog.yaml", ALLOWED, "/repo/catalog.yaml"),
        ("HTTPS://Allowed.Example.COM:443/x", ALLOWED, "/x"),
        (f"http://{ALLOWED}:8080", f"{ALLOWED}:8080", "/"),
        ("http://127.0.0.1:7007/a?b=c@d#e@f", "127.0.0.1:7007", "/a"),
        ("http://[::1]:7007/a", "[::1]:7007", "/a"),
        ("https://xn--pple-43d.com/a", "xn--pple-43d.com", "/a"),
        ("http://git_server.internal/a", "git_server.internal", "/a"),
    ],
)
def test_a_plain_url_names_the_host_the_fetcher_connects_to(
    url: str, authority: str, path: str
) -> None:
    target = parse_fetch_url(url)
    assert (target.authority, target.path) == (authority, path)


def test_the_allow_list_sees_the_host_the_fetcher_connects_to() -> None:
    allow = ReadingAllowList.from_config(
        Config.from_data(
            {"backend": {"reading": {"allow": [{"host": ALLOWED, "paths": ["/repo/"]}]}}}
        )
    )
    assert allow.allows(f"https://{ALLOWED}/repo/catalog.yaml")
    for url in TRICKS.values():
        assert not allow.allows(url.replace("/catalog.yaml", "/repo/catalog.yaml")), url
    # climbing out of an admitted path, percent-encoded or not
    for path in ("/repo/../secret.yaml", "/repo/%2e%2e/secret.yaml", "/repo/%2E./secret.yaml"):
        assert not allow.allows(f"https://{ALLOWED}{path}"), path
    assert not allow.allows(f"https://{ALLOWED}/repo%2f..%2fsecret.yaml")


async def test_registering_an_ambiguous_url_is_a_400(database_config: dict[str, Any]) -> None:
    config = {"backend": {"database": database_config, "reading": {"allow": [{"host": ALLOWED}]}}}
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        for name, url in TRICKS.items():
            for dry_run in ("false", "true"):
                response = await test.client.post(
                    f"/api/catalog/locations?dryRun={dry_run}",
                    json={"type": "url", "target": url},
                )
                assert response.status_code == 400, (name, response.text)
                body = response.json()
                assert body["error"]["name"] == "InputError", name
                if "\x00" not in url:  # the body reader refuses NUL before the route
                    assert "is refused" in body["error"]["message"], name
                assert body["response"] == {"statusCode": 400}
        listed = await test.client.get("/api/catalog/locations")
        assert listed.status_code == 200
        assert [
            item for item in listed.json() if item["data"]["type"] == "url"
        ] == []  # nothing was stored


async def test_ambiguous_urls_found_while_processing_are_errors(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        host = f"127.0.0.1:{port}"
        server.put("/repo/description.txt", "fetched")
        tricky = [
            f"http://{host}\\@127.0.0.1:{port}/repo/child.yaml",
            f"http://{host}@127.0.0.1:{port}/repo/child.yaml",
            f"http://2130706433:{port}/repo/child.yaml",
            f"http://[::ffff:127.0.0.1]:{port}/repo/child.yaml",
        ]
        server.put("/repo/child.yaml", "kind: Component\n")
        targets = "".join(f"    - '{url}'\n" for url in tricky)
        location = server.put(
            "/repo/catalog-info.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: tricky}\n"
            f"spec:\n  type: url\n  targets:\n{targets}",
        )
        placeholder = server.put(
            "/repo/placeholder.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            "metadata:\n  name: sneaky\n"
            f"  description: {{$text: 'http://{host}\\@127.0.0.1:{port}/repo/description.txt'}}\n"
            "spec: {type: service, lifecycle: production, owner: team-a}\n",
        )
        climbing = server.put(
            "/repo/climbing.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            "metadata:\n  name: climbing\n"
            "  description: {$text: '%2e%2e/outside/description.txt'}\n"
            "spec: {type: service, lifecycle: production, owner: team-a}\n",
        )
        backslashed = server.put(
            "/repo/backslashed.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            "metadata:\n  name: backslashed\n"
            "  description: {$text: '..\\outside/description.txt'}\n"
            "spec: {type: service, lifecycle: production, owner: team-a}\n",
        )
        redirect = server.put(
            "/repo/moved.yaml",
            "",
            status=302,
            location=f"http://{host}\\@127.0.0.1:{port}/repo/child.yaml",
        )
        server.put("/outside/description.txt", "outside")
        config = {
            "backend": {
                "database": database_config,
                "reading": {"allow": [{"host": host, "paths": ["/repo/"]}]},
            }
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            for target in (location, placeholder, climbing, backslashed, redirect):
                response = await test.client.post(
                    "/api/catalog/locations", json={"type": "url", "target": target}
                )
                assert response.status_code == 201, response.text
            await probe.idle()
            response = await test.client.get("/api/catalog/entities")
            entities = {e["metadata"]["name"]: e for e in response.json()}
            errors: dict[str, list[dict[str, Any]]] = {}
            async with probe.catalog.processing.transaction() as connection:
                rows = await connection.execute(
                    sa.select(refresh_state.c.entity_ref, refresh_state.c.errors)
                )
                for ref, raw in rows:
                    errors[ref] = msgspec.json.decode(raw or "[]")
    assert server.requests.count("/repo/child.yaml") == 0
    assert "/repo/description.txt" not in server.requests
    assert "/outside/description.txt" not in server.requests
    assert "sneaky" not in entities
    assert "climbing" not in entities
    assert "backslashed" not in entities
    # a redirect to an ambiguous URL is not followed
    [moved] = [
        e
        for e in entities.values()
        if e["kind"] == "Location" and e["spec"].get("target") == redirect
    ]
    [item] = moved["status"]["items"]
    assert item["message"].startswith("NotAllowedError: Reading from "), item
    # the Location entity naming them carries one error per URL, none was read
    items = entities["tricky"]["status"]["items"]
    assert len(items) == len(tricky)
    for url, item in zip(tricky, items, strict=True):
        assert item["error"]["name"] == "NotAllowedError"
        assert item["error"]["message"] == item["message"].removeprefix("NotAllowedError: ")
        assert item["message"].startswith(f"NotAllowedError: The URL {url!r} is refused, ")
    [sneaky] = errors["component:default/sneaky"]
    assert sneaky["name"] == "NotAllowedError"
    [outside] = errors["component:default/climbing"]
    assert outside["name"] == "NotAllowedError"
    assert "backend.reading.allow" in outside["message"]
    [backslash] = errors["component:default/backslashed"]
    assert backslash["name"] == "NotAllowedError"
    assert "backslash" in backslash["message"]
