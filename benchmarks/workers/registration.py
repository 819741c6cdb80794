"""How long a location registered through the API waits until it is served, for a catalog
unit of one process against one of several workers (processing in the background worker,
which finds the registration at its next poll instead of being woken in process).

Starts `backstage-py start --unit catalog` on Postgres and Redis (the example catalog
ingested first), registers `--registrations` url locations of one component each, one
after another, and times each from the `POST /locations` to the first by-refs answer that
holds the component. Then the same with `backend.workers: --workers`. Prints one JSON line
per run and the ratio of their medians.

    uv run python benchmarks/workers/registration.py [--workers 2] [--registrations 8]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--redis redis://127.0.0.1:6379]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.reliability._catalog import cluster, component_documents, static_site  # noqa: E402

SETTLE_SECONDS = 20.0
"""After readiness: the example catalog's ingestion, which the timings must not include."""
POLL_SECONDS = 0.01


def waits(workers: int, count: int, root: Path) -> list[float]:
    """Seconds each of `count` registrations waited until served, on a unit of `workers`."""
    site = root / "site"
    site.mkdir(parents=True)
    found_waits: list[float] = []
    with cluster(root / "cluster") as found, static_site(site) as base:
        host = base.removeprefix("http://")
        unit = found.add_unit(
            unit="catalog",
            config={"backend": {"workers": workers, "reading": {"allow": [{"host": host}]}}},
        )
        unit.start()
        unit.wait_ready()
        time.sleep(SETTLE_SECONDS)
        for index in range(count):
            name = f"registered-{index}"
            (site / f"{name}.yaml").write_text(component_documents([name]))
            begin = time.monotonic()
            created = httpx.post(
                f"{unit.url}/api/catalog/locations",
                json={"type": "url", "target": f"{base}/{name}.yaml"},
                headers=found.headers,
                timeout=30,
            )
            created.raise_for_status()
            while True:
                response = httpx.post(
                    f"{unit.url}/api/catalog/entities/by-refs",
                    json={"entityRefs": [f"component:default/{name}"]},
                    headers=found.headers,
                    timeout=30,
                )
                if response.json()["items"][0] is not None:
                    break
                time.sleep(POLL_SECONDS)
            found_waits.append(time.monotonic() - begin)
            time.sleep(1.3)  # past the processing of this one: the next starts from idle
    return found_waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--registrations", type=int, default=8)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    options = parser.parse_args()
    os.environ.setdefault("BACKSTAGE_TEST_POSTGRES_URL", options.postgres)
    os.environ.setdefault("BACKSTAGE_TEST_REDIS_URL", options.redis)
    medians = {}
    for workers in (1, options.workers):
        with tempfile.TemporaryDirectory() as folder:
            timings = waits(workers, options.registrations, Path(folder))
        medians[workers] = statistics.median(timings)
        line = {
            "workers": workers,
            "median_s": round(medians[workers], 3),
            "min_s": round(min(timings), 3),
            "max_s": round(max(timings), 3),
            "waits_s": [round(t, 3) for t in timings],
        }
        print(json.dumps(line), flush=True)
    ratio = medians[options.workers] / medians[1]
    print(json.dumps({"median_ratio_workers_to_one_process": round(ratio, 2)}))


if __name__ == "__main__":
    main()
