"""`kill -9` mid-ingestion: a catalog unit ingesting the example catalog (and a generated
location large enough to be caught half-way) is killed with SIGKILL, restarted on the same
databases, and serves every entity again within two processing intervals of being ready:
no lease, claim or half-written batch of the killed process holds entities back."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.deploy._processes import wait_until
from tests.deploy._units import UnitProcess

from ._catalog import Cluster, cluster, component_documents, example_refs

INTERVAL_SECONDS = 5
# Each entity is reprocessed after a random time in [d, 1.5 d]; the stitch lease as long.
RECOVERY_BOUND = 2 * 1.5 * INTERVAL_SECONDS
GENERATED = 1000


def _generated_location(root: Path) -> tuple[Path, list[str]]:
    names = [f"generated-{index:04d}" for index in range(GENERATED)]
    path = root / "generated.yaml"
    path.write_text(component_documents(names))
    return path, [f"component:default/{name}" for name in names]


def _served(nodes: Cluster, unit: UnitProcess, refs: list[str]) -> int:
    return sum(item is not None for item in nodes.by_refs(unit, refs))


def test_a_catalog_killed_mid_ingestion_converges_after_a_restart(tmp_path: Path) -> None:
    with cluster(tmp_path) as nodes:
        generated, generated_refs = _generated_location(tmp_path)
        interval = {"seconds": INTERVAL_SECONDS}
        unit = nodes.add_unit(
            config={
                "catalog": {
                    "processingInterval": interval,
                    "stitchingStrategy": {"mode": "deferred", "stitchTimeout": interval},
                }
            },
            locations=[{"type": "file", "target": str(generated)}],
        )
        everything = example_refs() + generated_refs

        unit.start()

        # Killed as soon as some, not all, of the generated entities are served.
        def partly() -> int | None:
            count = _served(nodes, unit, generated_refs)
            return count if 0 < count < GENERATED else None

        before = wait_until(
            partly,
            "the first generated entities",
            alive=[unit.running()],
            timeout=180,
            describe=nodes.describe,
        )
        assert unit.stop(signal.SIGKILL) == -signal.SIGKILL
        assert 0 < before < GENERATED

        unit.start()
        unit.wait_ready()
        took = nodes.wait_served(unit, everything, timeout=RECOVERY_BOUND)
        assert took < RECOVERY_BOUND, took
        print(f"killed at {before} of {GENERATED}: all served {took:.1f} s after ready")

        # Nothing was ingested twice: every generated entity once, in one page.
        listed = httpx.get(
            f"{unit.url}/api/catalog/entities",
            params={"filter": "kind=component", "fields": "metadata.name"},
            headers=nodes.headers,
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        names = [item["metadata"]["name"] for item in listed.json()]
        assert len(names) == len(set(names))
        assert {f"generated-{index:04d}" for index in range(GENERATED)} <= set(names)
        assert unit.stop() == 0, unit.tail()
