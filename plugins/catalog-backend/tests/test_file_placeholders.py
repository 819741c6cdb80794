"""Placeholders of `file` locations read only inside the location file's directory: every
way out (`..`, an absolute path, a symbolic link, a `file://` URL) is the entity's
processing error, and the file outside is never served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import refresh_state

from ._support import Probe, probe_module

SECRET = "the-secret-of-the-machine"


def component(name: str, description: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}, description: {description}}}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )


async def entity_errors(probe: Probe, ref: str) -> list[dict[str, Any]]:
    async with probe.catalog.processing.transaction() as connection:
        errors = await connection.scalar(
            sa.select(refresh_state.c.errors).where(refresh_state.c.entity_ref == ref)
        )
    assert errors is not None, ref
    decoded: list[dict[str, Any]] = msgspec.json.decode(errors or "[]")
    return decoded


async def test_placeholders_of_a_file_location_stay_in_its_directory(
    database_config: dict[str, Any], tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text(SECRET)
    catalog = tmp_path / "catalog"
    (catalog / "docs").mkdir(parents=True)
    (catalog / "description.txt").write_text("A sibling file")
    (catalog / "docs" / "nested.txt").write_text("A nested file")
    (catalog / "link.txt").symlink_to(outside)
    (catalog / "dir-link").symlink_to(tmp_path)
    (catalog / "binary.bin").write_bytes(b"\xff\xfe not UTF-8")
    cases = {
        "sibling": "{$text: ./description.txt}",
        "nested": "{$text: docs/nested.txt}",
        "climbing": "{$text: ../secret.txt}",
        "climbing-back": "{$text: docs/../../secret.txt}",
        "absolute": "{$text: '" + str(outside) + "'}",
        "symlink": "{$text: ./link.txt}",
        "symlinked-dir": "{$text: dir-link/secret.txt}",
        "file-url": "{$text: 'file://" + str(outside) + "'}",
        "yaml-climbing": "{$yaml: ../secret.txt}",
        "json-absolute": "{$json: '" + str(outside) + "'}",
        "nul": '{$text: "description.txt\\0../../secret.txt"}',
        "binary": "{$text: ./binary.bin}",
    }
    files = []
    for name, placeholder in cases.items():
        path = catalog / f"{name}.yaml"
        path.write_text(component(name, placeholder))
        files.append(path)
    config = {
        "backend": {"database": database_config},
        "catalog": {"locations": [{"type": "file", "target": str(path)} for path in files]},
    }
    probe = Probe()
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        response = await test.client.get("/api/catalog/entities")
        assert response.status_code == 200
        served = {e["metadata"]["name"]: e for e in response.json()}
        refused = [name for name in cases if name not in ("sibling", "nested")]
        errors = {name: await entity_errors(probe, f"component:default/{name}") for name in cases}
    assert served["sibling"]["metadata"]["description"] == "A sibling file"
    assert served["nested"]["metadata"]["description"] == "A nested file"
    assert errors["sibling"] == errors["nested"] == []
    for name in refused:
        assert name not in served
        if name in ("nul", "binary"):
            continue
        [error] = errors[name]
        assert error["name"] == "NotAllowedError", name
        assert error["message"].startswith("Placeholder "), name
    assert "not a URL" in errors["file-url"][0]["message"]
    assert "outside the directory" in errors["symlink"][0]["message"]
    for name in ("nul", "binary"):  # bad input, not an escape: still the entity's error
        [error] = errors[name]
        assert error["name"] == "InputError", name
    assert SECRET not in response.text
