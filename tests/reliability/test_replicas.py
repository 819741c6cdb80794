"""Two catalog replicas (real processes) on the same Postgres databases: both serve every
entity of the example catalog, a location registered through one is served by the other,
a location deleted through the other is gone from both, and neither logs an error (no
duplicate processing, no conflicts between the replicas' claims and stitches)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.deploy._processes import wait_until
from tests.deploy._units import UnitProcess

from ._catalog import Cluster, cluster, component_documents, example_refs, static_site

INTERVAL = {"seconds": 3}
# A registered location is read, processed and stitched by whichever replica claims it.
PROPAGATION_BOUND = 60.0


def _names(nodes: Cluster, unit: UnitProcess, prefix: str) -> set[str]:
    response = httpx.get(
        f"{unit.url}/api/catalog/entities",
        params={"filter": "kind=component", "fields": "metadata.name"},
        headers=nodes.headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {
        item["metadata"]["name"]
        for item in response.json()
        if item["metadata"]["name"].startswith(prefix)
    }


def _wait_names(nodes: Cluster, unit: UnitProcess, expected: set[str], what: str) -> None:
    wait_until(
        lambda: _names(nodes, unit, "replicated-") == expected,
        f"{unit.name} {what}",
        alive=[other.running() for other in nodes.units],
        timeout=PROPAGATION_BOUND,
        describe=nodes.describe,
    )


def test_two_replicas_share_one_catalog(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    registered = [f"replicated-{index:03d}" for index in range(40)]
    (site / "registered.yaml").write_text(component_documents(registered))
    with cluster(tmp_path) as nodes, static_site(site) as base_url:
        config = {
            "backend": {"reading": {"allow": [{"host": base_url.removeprefix("http://")}]}},
            "catalog": {"processingInterval": INTERVAL},
        }
        first = nodes.add_unit(config=config)
        second = nodes.add_unit(config=config)
        first.start()
        second.start()
        first.wait_ready()
        second.wait_ready()
        refs = example_refs()
        for unit in (first, second):
            nodes.wait_served(unit, refs)

        created = httpx.post(
            f"{first.url}/api/catalog/locations",
            json={"type": "url", "target": f"{base_url}/registered.yaml"},
            headers=nodes.headers,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        location_id = created.json()["location"]["id"]
        for unit in (second, first):
            _wait_names(nodes, unit, set(registered), "serving the registered location")
        # The location is the same row for both.
        for unit in (first, second):
            found = httpx.get(
                f"{unit.url}/api/catalog/locations/{location_id}",
                headers=nodes.headers,
                timeout=30,
            )
            assert found.status_code == 200, found.text

        deleted = httpx.delete(
            f"{second.url}/api/catalog/locations/{location_id}",
            headers=nodes.headers,
            timeout=30,
        )
        assert deleted.status_code == 204, deleted.text
        for unit in (first, second):
            _wait_names(nodes, unit, set(), "no longer serving the deleted location")
        # The example catalog is untouched on both.
        for unit in (first, second):
            assert None not in nodes.by_refs(unit, refs)

        for unit in (first, second):
            errors = [
                record for record in unit.records() if record.get("level") in ("error", "fatal")
            ]
            assert errors == [], (unit.name, errors[:5])
            assert unit.stop() == 0, unit.tail()
