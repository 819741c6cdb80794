"""The long versions of the reliability suite's soak and overload.

Soak: a real `backstage-py start --unit catalog` process (the production config, auth on,
Postgres and Redis) ingesting the example catalog and `--entities` generated components,
then `--clients` connections of mixed reads (by name, lists, by-query, by-refs, facets,
locations) and location writes (register, read, delete a url location) for `--duration`
seconds. Every `--sample` seconds one JSON line: the server's resident memory (from
/proc/<pid>/status), requests and statuses in the window, 5xx and transport errors, and
latency percentiles; at the end a summary line (RSS first, last and peak, growth after
the first sample, totals, overall percentiles).

Overload: then runs `overload.py` (256 clients of large by-query reads: readiness statuses,
by-name p99, processing progress) with `--overload-clients` and `--overload-duration`, and
relays its JSON lines. `--skip-overload` / `--skip-soak` leave one out.

    uv run python benchmarks/reliability/soak.py [--duration 1800] [--clients 16]
        [--sample 60] [--entities 1000] [--overload-clients 256] [--overload-duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
# The reliability tests' way of running a unit, reused so both run the same thing.
from tests.deploy._processes import delete_cache_keys, drop_databases  # noqa: E402
from tests.deploy._units import UnitProcess  # noqa: E402
from tests.reliability._catalog import (  # noqa: E402
    Cluster,
    component_documents,
    example_refs,
    read_rss_kib,
    static_site,
)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)}


@dataclass
class Window:
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def record(self, what: str, started: float, outcome: httpx.Response | Exception) -> None:
        self.latencies_ms.append((time.monotonic() - started) * 1000)
        if isinstance(outcome, Exception):
            self.transport_errors += 1
            if len(self.failures) < 5:
                self.failures.append(f"{what}: {type(outcome).__name__}: {outcome}")
            return
        self.statuses[outcome.status_code] += 1
        if outcome.status_code >= 500 and len(self.failures) < 5:
            self.failures.append(f"{what}: {outcome.status_code} {outcome.text[:200]}")


class Load:
    """Mixed reads and location writes; figures gathered per sampling window."""

    def __init__(self, base_url: str, headers: dict[str, str], refs: list[str]) -> None:
        self.base_url = base_url
        self.headers = headers
        self.refs = refs
        self.window = Window()
        self.total = Window()

    def take_window(self) -> Window:
        window, self.window = self.window, Window()
        return window

    async def _send(self, client: httpx.AsyncClient, method: str, path: str, **extra: Any) -> Any:
        started = time.monotonic()
        outcome: httpx.Response | Exception
        try:
            outcome = await client.request(method, path, **extra)
        except httpx.HTTPError as error:
            outcome = error
        for window in (self.window, self.total):
            window.record(f"{method} {path}", started, outcome)
        return outcome

    async def reader(self, until: float) -> None:
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=60
        ) as client:
            while time.monotonic() < until:
                kind, _, name = random.choice(self.refs).partition(":")
                namespace, _, name = name.partition("/")
                choice = random.randrange(7)
                if choice == 0:
                    path = f"/api/catalog/entities/by-name/{kind}/{namespace}/{name}"
                    await self._send(client, "GET", path)
                elif choice == 1:
                    await self._send(
                        client, "GET", "/api/catalog/entities", params={"filter": "kind=user"}
                    )
                elif choice == 2:
                    await self._send(
                        client,
                        "GET",
                        "/api/catalog/entities/by-query",
                        params={"limit": "50", "filter": "kind=component"},
                    )
                elif choice == 3:
                    refs = random.sample(self.refs, min(50, len(self.refs)))
                    await self._send(
                        client, "POST", "/api/catalog/entities/by-refs", json={"entityRefs": refs}
                    )
                elif choice == 4:
                    await self._send(
                        client, "GET", "/api/catalog/entity-facets", params={"facet": "kind"}
                    )
                elif choice == 5:
                    await self._send(client, "GET", "/api/catalog/locations")
                else:
                    path = f"/api/catalog/entities/by-name/{kind}/{namespace}/missing-{name}"
                    await self._send(client, "GET", path)

    async def writer(self, until: float, target: str) -> None:
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=60
        ) as client:
            while time.monotonic() < until:
                created = await self._send(
                    client, "POST", "/api/catalog/locations", json={"type": "url", "target": target}
                )
                if not isinstance(created, httpx.Response) or created.status_code != 201:
                    await asyncio.sleep(0.5)
                    continue
                location_id = created.json()["location"]["id"]
                await self._send(client, "GET", f"/api/catalog/locations/{location_id}")
                await self._send(client, "DELETE", f"/api/catalog/locations/{location_id}")


def _window_figures(window: Window) -> dict[str, Any]:
    return {
        "requests": sum(window.statuses.values()) + window.transport_errors,
        "statuses": {str(code): count for code, count in sorted(window.statuses.items())},
        "errors_5xx": sum(count for code, count in window.statuses.items() if code >= 500),
        "transport_errors": window.transport_errors,
        **_percentiles(window.latencies_ms),
        **({"failures": window.failures} if window.failures else {}),
    }


async def soak(
    args: argparse.Namespace, unit: UnitProcess, nodes: Cluster, targets: list[str]
) -> None:
    refs = example_refs() + [f"component:default/soak-bench-{i}" for i in range(args.entities)]
    load = Load(unit.url, nodes.headers, refs)
    pid = unit.running().pid
    began = time.monotonic()
    until = began + args.duration
    writers = max(1, args.clients // 8)
    tasks = [asyncio.create_task(load.reader(until)) for _ in range(args.clients - writers)]
    tasks += [
        asyncio.create_task(load.writer(until, targets[index % len(targets)]))
        for index in range(writers)
    ]
    rss: list[int] = []
    while time.monotonic() < until:
        await asyncio.sleep(min(args.sample, max(0.0, until - time.monotonic())))
        rss.append(read_rss_kib(pid))
        figures = _window_figures(load.take_window())
        elapsed = round(time.monotonic() - began)
        print(json.dumps({"run": "soak", "t_s": elapsed, "rss_kib": rss[-1], **figures}))
        sys.stdout.flush()
    await asyncio.gather(*tasks)
    print(
        json.dumps(
            {
                "run": "soak summary",
                "duration_s": args.duration,
                "clients": args.clients,
                "writers": writers,
                "entities": len(refs),
                "rss_first_kib": rss[0],
                "rss_last_kib": rss[-1],
                "rss_peak_kib": max(rss),
                "rss_growth_after_first_sample_kib": rss[-1] - rss[0],
                **_window_figures(load.total),
            }
        )
    )


def overload(args: argparse.Namespace) -> None:
    command = [
        sys.executable,
        str(Path(__file__).with_name("overload.py")),
        "--clients",
        str(args.overload_clients),
        "--duration",
        str(args.overload_duration),
        "--postgres",
        args.postgres,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in completed.stdout.splitlines():
        try:
            print(json.dumps({"run": "overload", **json.loads(line)}))
        except ValueError:
            continue
    if completed.returncode != 0:
        print(json.dumps({"run": "overload", "exit": completed.returncode,
                          "stderr_tail": completed.stderr[-2000:]}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=1800, help="soak seconds")
    parser.add_argument("--clients", type=int, default=16, help="soak connections")
    parser.add_argument("--sample", type=float, default=60, help="seconds per figures line")
    parser.add_argument("--entities", type=int, default=1000, help="generated components")
    parser.add_argument("--overload-clients", type=int, default=256)
    parser.add_argument("--overload-duration", type=float, default=60)
    parser.add_argument("--skip-overload", action="store_true")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "BACKSTAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BACKSTAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    )
    args = parser.parse_args()
    if not args.skip_soak:
        run_soak(args)
    if not args.skip_overload:
        overload(args)


def run_soak(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        nodes = Cluster(
            root=root,
            prefix=f"bench_soak_{uuid.uuid4().hex[:8]}_",
            token=secrets.token_urlsafe(16),
            postgres_url=args.postgres,
            redis_url=args.redis,
        )
        site = root / "site"
        site.mkdir()
        generated = root / "generated.yaml"
        generated.write_text(
            component_documents([f"soak-bench-{index}" for index in range(args.entities)])
        )
        targets = []
        for index in range(4):
            names = [f"soak-written-{index}-{item}" for item in range(10)]
            (site / f"written-{index}.yaml").write_text(component_documents(names))
            targets.append(f"written-{index}.yaml")
        try:
            with static_site(site) as base_url:
                unit = nodes.add_unit(
                    config={
                        "backend": {
                            "reading": {"allow": [{"host": base_url.removeprefix("http://")}]}
                        },
                        "catalog": {"processingInterval": {"seconds": 30}},
                    },
                    locations=[{"type": "file", "target": str(generated)}],
                )
                unit.start()
                unit.wait_ready()
                refs = example_refs() + [
                    f"component:default/soak-bench-{i}" for i in range(args.entities)
                ]
                ingested = nodes.wait_served(unit, refs, timeout=600)
                ingestion = {"entities": len(refs), "seconds": round(ingested, 1)}
                print(json.dumps({"run": "soak ingestion", **ingestion}))
                urls = [f"{base_url}/{target}" for target in targets]
                asyncio.run(soak(args, unit, nodes, urls))
                print(json.dumps({"run": "soak stop", "exit": unit.stop()}))
        finally:
            for unit in nodes.units:
                unit.stop()
            asyncio.run(drop_databases(args.postgres, nodes.prefix))
            asyncio.run(delete_cache_keys(args.redis, nodes.prefix))


if __name__ == "__main__":
    main()
