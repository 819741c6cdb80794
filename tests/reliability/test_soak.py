"""A short soak: a catalog unit (a real process) under mixed reads and location writes for
`SOAK_SECONDS`; no 5xx, no request failing at the transport, and the server's resident
memory grows by less than `RSS_GROWTH_BOUND_KIB` from the end of the warm-up to the end.
`benchmarks/reliability/soak.py` runs the long version."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.deploy._units import UnitProcess

from ._catalog import Cluster, cluster, component_documents, example_refs, read_rss_kib, static_site

SOAK_SECONDS = 30.0
WARMUP_SECONDS = 8.0
READERS = 3
WRITERS = 1
# What a steady server may still grow by in half a minute (allocator arenas, caches that
# fill to their bound); a leak per request would pass it within seconds at this rate.
RSS_GROWTH_BOUND_KIB = 24 * 1024

READS = [
    ("GET", "/api/catalog/entities/by-name/component/default/checkout-service", {}),
    ("GET", "/api/catalog/entities", {"params": {"filter": "kind=component"}}),
    (
        "GET",
        "/api/catalog/entities/by-query",
        {"params": {"limit": "20", "fullTextFilterTerm": "a"}},
    ),
    ("POST", "/api/catalog/entities/by-refs", {"json": {"entityRefs": example_refs()}}),
    ("GET", "/api/catalog/entity-facets", {"params": {"facet": "kind"}}),
    ("GET", "/api/catalog/entities/by-name/user/default/does-not-exist", {}),
    ("GET", "/api/catalog/locations", {}),
]


class Tally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def record(self, what: str, response: httpx.Response | BaseException) -> None:
        with self._lock:
            if isinstance(response, BaseException):
                self.failures.append(f"{what}: {type(response).__name__}: {response}")
                return
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.failures.append(f"{what}: {response.status_code} {response.text[:300]}")


def _reader(unit: UnitProcess, nodes: Cluster, tally: Tally, until: float, offset: int) -> None:
    with httpx.Client(base_url=unit.url, headers=nodes.headers, timeout=30) as client:
        index = offset
        while time.monotonic() < until:
            method, path, extra = READS[index % len(READS)]
            index += 1
            try:
                tally.record(path, client.request(method, path, **extra))  # type: ignore[arg-type]
            except httpx.HTTPError as error:
                tally.record(path, error)


def _writer(unit: UnitProcess, nodes: Cluster, tally: Tally, until: float, target: str) -> None:
    with httpx.Client(base_url=unit.url, headers=nodes.headers, timeout=30) as client:
        while time.monotonic() < until:
            try:
                created = client.post(
                    "/api/catalog/locations", json={"type": "url", "target": target}
                )
                tally.record("POST /locations", created)
                if created.status_code != 201:
                    continue
                location_id = created.json()["location"]["id"]
                tally.record(
                    "GET /locations/:id", client.get(f"/api/catalog/locations/{location_id}")
                )
                tally.record(
                    "DELETE /locations/:id",
                    client.delete(f"/api/catalog/locations/{location_id}"),
                )
            except httpx.HTTPError as error:
                tally.record("location cycle", error)


def _run(
    unit: UnitProcess, nodes: Cluster, tally: Tally, seconds: float, targets: list[str]
) -> None:
    until = time.monotonic() + seconds
    with ThreadPoolExecutor(max_workers=READERS + WRITERS) as pool:
        futures = [
            pool.submit(_reader, unit, nodes, tally, until, index) for index in range(READERS)
        ]
        futures += [pool.submit(_writer, unit, nodes, tally, until, target) for target in targets]
        for future in futures:
            future.result()


def test_mixed_traffic_keeps_memory_flat_and_answers_no_5xx(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    targets = []
    for writer in range(WRITERS):
        names = [f"soak-{writer}-{index}" for index in range(10)]
        (site / f"soak-{writer}.yaml").write_text(component_documents(names))
        targets.append(f"soak-{writer}.yaml")
    with cluster(tmp_path) as nodes, static_site(site) as base_url:
        unit = nodes.add_unit(
            config={
                "backend": {"reading": {"allow": [{"host": base_url.removeprefix("http://")}]}},
                "catalog": {"processingInterval": {"seconds": 5}},
            }
        )
        unit.start()
        unit.wait_ready()
        nodes.wait_served(unit, example_refs())
        urls = [f"{base_url}/{target}" for target in targets]

        _run(unit, nodes, Tally(), WARMUP_SECONDS, urls)
        pid = unit.running().pid
        before = read_rss_kib(pid)
        tally = Tally()
        _run(unit, nodes, tally, SOAK_SECONDS, urls)
        after = read_rss_kib(pid)
        print(f"soak: RSS {before} -> {after} KiB, statuses {dict(tally.statuses)}")

        assert tally.failures == [], tally.failures[:10]
        assert sum(tally.statuses.values()) > 100, tally.statuses
        assert tally.statuses[201] > 0, tally.statuses
        assert after - before < RSS_GROWTH_BOUND_KIB, (before, after, tally.statuses)
        since = unit.log_size()
        assert unit.stop() == 0, unit.tail()
        # nothing held the shutdown until its deadline (a request, a connection, a hook)
        late = [r for r in unit.records(since) if "shutdownTimeout" in str(r.get("message"))]
        assert late == [], late
