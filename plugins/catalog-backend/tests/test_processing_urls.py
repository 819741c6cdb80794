"""URL locations over a real local HTTP server: the reading allow list, redirects,
placeholders, location annotations, and hostile YAML."""

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
from backstage_plugin_catalog_backend.readers import (
    MAX_DOCUMENT_BYTES,
    ReadingAllowList,
    parse_yaml_documents,
)

from ._support import Probe, probe_module, serve_files

SERVICE = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
  description: {$text: ./description.txt}
spec:
  type: service
  lifecycle: production
  owner: team-a
  extra: {$json: ./extra.json}
  nested: {$yaml: ./nested.yaml}
  schema: {$ref: '#/keep'}
"""


def catalog_config(database_config: dict[str, Any], allow: list[dict[str, Any]]) -> dict[str, Any]:
    return {"backend": {"database": database_config, "reading": {"allow": allow}}}


async def entities_by_name(test: Any) -> dict[str, dict[str, Any]]:
    response = await test.client.get("/api/catalog/entities")
    return {e["metadata"]["name"]: e for e in response.json()}


def location_entity(entities: dict[str, dict[str, Any]], target: str) -> dict[str, Any]:
    [found] = [
        e
        for e in entities.values()
        if e["kind"] == "Location" and e["spec"].get("target") == target
    ]
    return found


async def register(test: Any, target: str) -> dict[str, Any]:
    response = await test.client.post(
        "/api/catalog/locations", json={"type": "url", "target": target}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_url_location_with_placeholders_and_annotations(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    with serve_files() as server:
        target = server.put("/repo/catalog-info.yaml", SERVICE, etag='"v1"')
        server.put("/repo/description.txt", "A pet store")
        server.put("/repo/extra.json", '{"a": [1, 2]}')
        server.put("/repo/nested.yaml", "b: c\n")
        config = catalog_config(database_config, [{"host": "127.0.0.1:*"}])
        port = server.base_url.rsplit(":", 1)[1]
        config["backend"]["reading"]["allow"] = [{"host": f"127.0.0.1:{port}", "paths": ["/repo/"]}]
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            await register(test, target)
            await probe.idle()
            # read again: the server answers 304 and the cached file is used
            response = await test.client.post(
                "/api/catalog/refresh", json={"entityRef": "component:default/petstore"}
            )
            assert response.status_code == 200
            await probe.idle()
            assert server.conditional == ["/repo/catalog-info.yaml"]
            entities = await entities_by_name(test)
    petstore = entities["petstore"]
    assert petstore["metadata"]["description"] == "A pet store"
    assert petstore["spec"]["extra"] == {"a": [1, 2]}
    assert petstore["spec"]["nested"] == {"b": "c"}
    assert petstore["spec"]["schema"] == {"$ref": "#/keep"}
    annotations = petstore["metadata"]["annotations"]
    assert annotations["backstage.io/managed-by-location"] == f"url:{target}"
    assert annotations["backstage.io/managed-by-origin-location"] == f"url:{target}"
    assert annotations["backstage.io/view-url"] == target
    assert annotations["backstage.io/edit-url"] == target
    assert annotations["backstage.io/source-location"] == f"url:{server.base_url}/repo/"
    assert "status" not in location_entity(entities, target)


async def test_disallowed_hosts_and_redirects_are_never_fetched(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    with serve_files() as server, serve_files() as other:
        port = server.base_url.rsplit(":", 1)[1]
        secret = other.put("/secret.yaml", SERVICE)
        outside = server.put("/outside/catalog-info.yaml", SERVICE)
        redirect = server.put("/repo/moved.yaml", "", status=302, location=secret)
        placeholder = server.put(
            "/repo/placeholder.yaml",
            SERVICE.replace("{$text: ./description.txt}", "{$text: '" + secret + "'}"),
        )
        config = catalog_config(
            database_config, [{"host": f"127.0.0.1:{port}", "paths": ["/repo/"]}]
        )
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            for target in (outside, redirect, placeholder):
                await register(test, target)
            await probe.idle()
            entities = await entities_by_name(test)
            async with probe.catalog.processing.transaction() as connection:
                errors = await connection.scalar(
                    sa.select(refresh_state.c.errors).where(
                        refresh_state.c.entity_ref == "component:default/petstore"
                    )
                )
        assert other.requests == []
    assert "/outside/catalog-info.yaml" not in server.requests
    for target in (outside, redirect):
        [item] = location_entity(entities, target)["status"]["items"]
        assert item["message"].startswith("NotAllowedError: Reading from ")
        assert "backend.reading.allow" in item["message"]
    # the placeholder's entity failed before validation: it records the error, unserved
    [error] = msgspec.json.decode(errors)
    assert error["name"] == "NotAllowedError"
    assert error["message"].startswith("Placeholder ")
    assert "petstore" not in entities


async def test_missing_and_hostile_files_are_errors_of_their_location(
    database_config: dict[str, Any],
) -> None:
    probe = Probe()
    laughs = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level, previous in zip("bcdefghij", "abcdefghi", strict=True):
        laughs.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        missing = server.base_url + "/repo/missing.yaml"
        bomb = server.put("/repo/bomb.yaml", "\n".join(laughs) + "\n")
        scalar = server.put("/repo/scalar.yaml", "just a string\n")
        config = catalog_config(database_config, [{"host": f"127.0.0.1:{port}"}])
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            for target in (missing, bomb, scalar):
                await register(test, target)
            await probe.idle()
            entities = await entities_by_name(test)
    [item] = location_entity(entities, missing)["status"]["items"]
    assert item["message"].startswith(
        f"NotFoundError: Unable to read url, no matching files found for {missing}"
    )
    [item] = location_entity(entities, bomb)["status"]["items"]
    assert "expands to more than" in item["message"]
    [item] = location_entity(entities, scalar)["status"]["items"]
    assert item["message"] == "InputError: Expected object at root, got string"


def test_yaml_limits_and_positions() -> None:
    assert parse_yaml_documents(b"a: 1\n---\n---\nb: [1, 2]\n", "x") == [{"a": 1}, {"b": [1, 2]}]
    with pytest.raises(InputError, match=r"more than the \d+ bytes"):
        parse_yaml_documents(b"a" * (MAX_DOCUMENT_BYTES + 1), "big.yaml")
    with pytest.raises(InputError, match=r"YAML error at x.yaml, line 2, column 1"):
        parse_yaml_documents(b"a: [1,\n", "x.yaml")
    # shared aliases that stay small are fine
    assert parse_yaml_documents(b"a: &x [1]\nb: *x\n", "x") == [{"a": [1], "b": [1]}]


def test_allow_list_hosts_paths_and_wildcards() -> None:
    allow = ReadingAllowList.from_config(
        Config.from_data(
            {
                "backend": {
                    "reading": {
                        "allow": [
                            {"host": "example.com", "paths": ["/x/"]},
                            {"host": "*.example.org"},
                        ]
                    }
                }
            }
        )
    )
    assert allow.allows("https://example.com/x/catalog.yaml")
    assert not allow.allows("https://example.com/y/catalog.yaml")
    assert not allow.allows("https://example.com/x/../y/catalog.yaml")
    assert not allow.allows("https://example.com:8443/x/catalog.yaml")
    assert allow.allows("https://git.example.org/a.yaml")
    assert not allow.allows("https://example.org.evil.com/a.yaml")
    assert not allow.allows("file:///etc/passwd")
    assert not allow.allows("https://other.com/x/")


async def test_a_remote_file_cannot_point_the_catalog_at_local_files(
    database_config: dict[str, Any], tmp_path: Any
) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text(SERVICE)
    probe = Probe()
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        target = server.put(
            "/repo/catalog-info.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: sneaky}\n"
            f"spec: {{type: file, target: '{secret}'}}\n",
        )
        config = catalog_config(database_config, [{"host": f"127.0.0.1:{port}"}])
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            await register(test, target)
            await probe.idle()
            entities = await entities_by_name(test)
    assert "petstore" not in entities
    [item] = entities["sneaky"]["status"]["items"]
    assert item["message"].startswith("NotAllowedError: Location entity location:default/sneaky")
