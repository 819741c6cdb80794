"""Bad input on the write side (duplicate locations, invalid entities, oversize and
non-JSON bodies, hostile YAML behind a registered URL) gets the right 4xx or an error on its
own location, and leaves every entity already in the catalog exactly as it was."""

from __future__ import annotations

from typing import Any

from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin

from ._support import Probe, probe_module, serve_files

COMPONENTS = "---\n".join(
    f"""apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: service-{n}
  tags: [python]
spec:
  type: service
  lifecycle: production
  owner: team-{n % 3}
"""
    for n in range(12)
)


def _billion_laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level, previous in zip("bcdefghij", "abcdefghi", strict=True):
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


async def _snapshot(test: Any) -> dict[str, dict[str, Any]]:
    response = await test.client.get("/api/catalog/entities")
    assert response.status_code == 200
    return {
        f"{e['kind']}:{e['metadata']['name']}": e
        for e in response.json()
        if e["kind"] != "Location"
    }


def _assert_error(response: Any, status: int, name: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["name"] == name
    assert message in body["error"]["message"]
    assert body["response"] == {"statusCode": status}


async def test_bad_writes_leave_stored_entities_untouched(database_config: dict[str, Any]) -> None:
    probe = Probe()
    with serve_files() as server:
        host = server.base_url.removeprefix("http://")
        good = server.put("/repo/catalog-info.yaml", COMPONENTS)
        bomb = server.put("/repo/bomb.yaml", _billion_laughs())
        huge = server.put("/repo/huge.yaml", "a: " + "x" * (11 * 1024 * 1024) + "\n")
        broken = server.put("/repo/broken.yaml", "kind: [unclosed\n")
        config = {
            "backend": {
                "database": database_config,
                "reading": {"allow": [{"host": host}]},
                "server": {"requestBodyLimit": 64 * 1024},
            }
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            client = test.client
            created = await client.post(
                "/api/catalog/locations", json={"type": "url", "target": good}
            )
            assert created.status_code == 201, created.text
            await probe.idle()
            before = await _snapshot(test)
            assert len(before) == 12

            _assert_error(
                await client.post("/api/catalog/locations", json={"type": "url", "target": good}),
                409,
                "ConflictError",
                "already exists",
            )
            invalid = await client.post(
                "/api/catalog/validate-entity",
                json={
                    "entity": {
                        "apiVersion": "backstage.io/v1alpha1",
                        "kind": "Component",
                        "metadata": {"name": "service-1", "tags": ["Not A Tag"]},
                        "spec": {"type": "service"},
                    },
                    "location": f"url:{good}",
                },
            )
            assert invalid.status_code == 400
            assert invalid.json()["errors"]
            _assert_error(
                await client.post(
                    "/api/catalog/locations",
                    content=b"{not json",
                    headers={"content-type": "application/json"},
                ),
                400,
                "InputError",
                "",
            )
            oversize = await client.post(
                "/api/catalog/locations",
                json={"type": "url", "target": good + "?" + "x" * (128 * 1024)},
            )
            assert oversize.status_code == 413
            for target in (bomb, huge, broken):
                registered = await client.post(
                    "/api/catalog/locations", json={"type": "url", "target": target}
                )
                assert registered.status_code == 201, registered.text
            await probe.idle()
            after = await _snapshot(test)
            locations = {
                e["spec"]["target"]: e
                for e in (await client.get("/api/catalog/entities?filter=kind=location")).json()
            }

    assert after == before
    for target in (bomb, huge, broken):
        [item] = locations[target]["status"]["items"]
        assert item["level"] == "error"
