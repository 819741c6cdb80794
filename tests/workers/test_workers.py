"""A unit served by several worker processes (`backend.workers: 2`) on the real Postgres and
Redis, started as the image starts it: two serving workers share the port, one background
worker processes the catalog and runs global tasks, the supervisor restarts a killed worker
and stops them all on SIGTERM.

The tests of this module share one unit and run in order; the last one stops it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy._processes import wait_until
from tests.deploy._units import START_TIMEOUT, UnitProcess
from tests.reliability._catalog import Cluster, cluster, component_documents, static_site

INDEX_EVERY = 3.0
"""Seconds between two runs of the search indexing task (global: once across workers)."""


class Workers:
    """The unit under test, its cluster and a folder its URL locations are served from."""

    def __init__(self, found: Cluster, unit: UnitProcess, site: Path, base: str) -> None:
        self.cluster = found
        self.unit = unit
        self.site = site
        self.site_url = base

    def get(self, path: str, **params: Any) -> httpx.Response:
        """One request on a connection of its own, so that any serving worker may take it."""
        return httpx.get(
            f"{self.unit.url}{path}",
            params=params,
            headers={**self.cluster.headers, "Connection": "close"},
            timeout=30,
        )

    def supervisor_pids(self) -> dict[int, int]:
        """Each worker's index and its latest pid, from the supervisor's log."""
        pids: dict[int, int] = {}
        for record in self.unit.records():
            message = str(record.get("message", ""))
            if record.get("worker") == "supervisor" and message.startswith("Started worker"):
                index = int(message.split()[2])
                pids[index] = int(message.rsplit(" ", 1)[1])
        return pids

    def children(self) -> set[int]:
        """The pids of the supervisor's child processes, from /proc."""
        parent = self.unit.running().pid
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it ended meanwhile
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so read after its `)`
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.add(int(entry.name))
        return found


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    root = tmp_path_factory.mktemp("workers")
    site = root / "site"
    site.mkdir()
    with cluster(root / "cluster") as found, static_site(site) as base:
        host = base.removeprefix("http://")
        unit = found.add_unit(
            unit="all",
            config={
                "backend": {
                    "workers": 2,
                    "reading": {"allow": [{"host": host}]},
                    "scheduler": {"pollInterval": "200ms"},
                },
                "catalog": {"stitchingStrategy": {"pollingInterval": "200ms"}},
                "search": {
                    "engine": "postgres",
                    "collators": {
                        "catalog": {
                            "schedule": {
                                "frequency": {"seconds": INDEX_EVERY},
                                "timeout": {"seconds": 60},
                                "initialDelay": {"seconds": 1},
                            }
                        }
                    },
                },
            },
        )
        unit.start()
        unit.wait_ready()
        wait_until(
            lambda: len(found_ready(unit)) == 3,
            "the supervisor's report that every worker is ready",
            alive=[unit.running()],
            timeout=START_TIMEOUT,
            describe=unit.tail,
        )
        yield Workers(found, unit, site, base)


def found_ready(unit: UnitProcess) -> list[dict[str, Any]]:
    return [
        record
        for record in unit.records()
        if record.get("worker") == "supervisor"
        and str(record.get("message", "")).startswith("Started worker")
    ]


def answered_by(unit: UnitProcess, since: int, path: str) -> set[int]:
    """The workers whose request log shows a request for `path` after byte `since`."""
    return {
        int(record["worker"])
        for record in unit.records(since)
        if record.get("type") == "incomingRequest" and path in str(record.get("message", ""))
    }


def test_two_serving_workers_share_the_port_and_a_third_processes(workers: Workers) -> None:
    unit = workers.unit
    pids = workers.supervisor_pids()
    assert sorted(pids) == [0, 1, 2]
    assert set(pids.values()) == workers.children()
    since = unit.log_size()
    for _ in range(24):
        response = workers.get("/.backstage/health/v1/readiness")
        assert response.status_code == 200, response.text
    path = "/api/catalog/entities/by-name/group/default/guests"
    for _ in range(24):
        assert workers.get(path).status_code in (200, 404)

    def both() -> set[int] | None:
        found = answered_by(unit, since, path)
        return found if found == {0, 1} else None

    # the request log of each worker (its lines carry its index) shows its share
    wait_until(both, "requests answered by both serving workers", describe=unit.tail)
    roles = {}
    for record in unit.records():
        if "Catalog processing, stitching and orphan cleanup are off" in str(record.get("message")):
            roles[record["worker"]] = "serve"
    # the serving workers say they run no processing loop; the background worker does not
    assert roles == {0: "serve", 1: "serve"}


def test_a_location_registered_through_a_serving_worker_is_processed(workers: Workers) -> None:
    unit, found = workers.unit, workers.cluster
    before = workers.get("/api/catalog/entity-facets", facet="kind")
    assert before.status_code == 200
    kinds = {item["value"]: item["count"] for item in before.json()["facets"]["kind"]}
    (workers.site / "workers.yaml").write_text(component_documents(["wk-a", "wk-b", "wk-c"]))
    registered = httpx.post(
        f"{unit.url}/api/catalog/locations",
        json={"type": "url", "target": f"{workers.site_url}/workers.yaml"},
        headers=found.headers,
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    refs = [f"component:default/wk-{name}" for name in "abc"]
    took = found.wait_served(unit, refs)
    print(f"a registered location served {took:.2f}s after its registration")
    # the facet counts of every serving worker follow the write of the background worker
    expected = {**kinds, "Component": kinds.get("Component", 0) + 3}
    expected["Location"] = kinds.get("Location", 0) + 1
    since = unit.log_size()
    for _ in range(16):
        response = workers.get("/api/catalog/entity-facets", facet="kind")
        assert response.status_code == 200
        assert {i["value"]: i["count"] for i in response.json()["facets"]["kind"]} == expected
    assert answered_by(unit, since, "/entity-facets") == {0, 1}


def test_a_global_task_runs_once_per_interval_on_the_background_worker(
    workers: Workers,
) -> None:
    unit = workers.unit
    since = unit.log_size()
    begin = time.monotonic()
    time.sleep(INDEX_EVERY * 4)
    elapsed = time.monotonic() - begin
    runs = [
        record
        for record in unit.records(since)
        if str(record.get("message", "")).startswith("Indexed ")
        and "software-catalog" in str(record.get("message"))
    ]
    assert {record["worker"] for record in runs} == {2}, unit.tail()
    # once per interval across the three workers: never one run per worker
    assert 2 <= len(runs) <= elapsed / INDEX_EVERY + 1, runs


def test_a_killed_worker_is_restarted(workers: Workers) -> None:
    unit = workers.unit
    old = workers.supervisor_pids()[0]
    os.kill(old, signal.SIGKILL)

    def restarted() -> int | None:
        pid = workers.supervisor_pids().get(0)
        return pid if pid != old else None

    new = wait_until(
        restarted,
        "the restart of worker 0",
        alive=[unit.running()],
        timeout=START_TIMEOUT,
        describe=unit.tail,
    )
    assert new in workers.children()
    assert old not in workers.children()
    assert any(
        f"pid {old}, exited with -9; restarting it" in str(record.get("message"))
        for record in unit.records()
    )
    for _ in range(8):
        assert workers.get("/.backstage/health/v1/readiness").status_code == 200


def test_sigterm_stops_every_worker_with_exit_code_0(workers: Workers) -> None:
    unit = workers.unit
    children = workers.children()
    assert len(children) == 3
    begin = time.monotonic()
    code = unit.stop(signal.SIGTERM)
    took = time.monotonic() - begin
    assert code == 0, unit.tail()
    # production config: shutdownTimeout 30 s, serverShutdownDelay 0 s here
    assert took < 30, took
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)


def test_a_worker_failing_at_start_stops_the_unit_with_its_error(tmp_path: Path) -> None:
    with cluster(tmp_path) as found:
        unit = found.add_unit(
            unit="catalog",
            config={"backend": {"workers": 2}, "catalog": {"orphanStrategy": "sometimes"}},
        )
        unit.start()
        process = unit.running()
        code = process.wait(timeout=START_TIMEOUT)
        unit.process = None
        output = unit.log.read_text()
        assert code == 1, output
        # the worker's own error, as a single process prints it
        assert "unit 'catalog' failed to start" in output
        assert "Config value for key 'catalog.orphanStrategy'" in output
        assert any(
            record.get("worker") == "supervisor"
            and "failed to start (exit code 1); stopping the other workers"
            in str(record.get("message"))
            for record in unit.records()
        ), output


def test_workers_of_a_supervisor_killed_outright_stop(tmp_path: Path) -> None:
    with cluster(tmp_path) as found:
        unit = found.add_unit(unit="catalog", config={"backend": {"workers": 2}})
        unit.start()
        unit.wait_ready()
        view = Workers(found, unit, tmp_path, "")
        wait_until(
            lambda: len(view.children()) == 3,
            "three workers",
            alive=[unit.running()],
            timeout=START_TIMEOUT,
            describe=unit.tail,
        )
        children = view.children()
        assert unit.stop(signal.SIGKILL) == -signal.SIGKILL
        # the kernel sends each worker SIGTERM: they shut down, the port is free again
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in children),
            "the end of every worker of the killed supervisor",
            timeout=60,
            describe=unit.tail,
        )
