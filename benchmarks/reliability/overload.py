"""A catalog unit under 256 concurrent large by-query reads: does it degrade, or flap?

Seeds `--entities` entities into a catalog database of its own on Postgres (all due for
processing), starts a real `backstage-py start --unit catalog` process on it, then runs two
phases of `--duration` seconds each:

- `quiet`: no load;
- `overload`: `--clients` connections, each sending `GET /entities/by-query` for pages of
  `--limit` components, the next as soon as the answer is read.

During both, on connections of their own: a readiness probe every 0.5 s, a by-name lookup
(`GET /entities/by-name/...`, a random entity) one after another, and every second the
processing backlog read from the database: entities due for more than 10 s (the catalog
claims each due entity and pushes its next update by `catalog.processingInterval`, so a
backlog that stays flat means processing keeps up) and the entities claimed during the
phase (whose next update moved). Prints one JSON line per phase, then one with the
verdicts of the targets: readiness always 200, by-name p99 under 100 ms, processing keeps
going (it claims entities under load).

    uv run python benchmarks/reliability/overload.py [--entities 5000] [--clients 256]
        [--duration 30] [--limit 500] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import yaml
from backstage_backend_defaults.database import DatabaseManager, run_migrations
from backstage_common.config import Config
from backstage_plugin_catalog_backend._plugin import MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks" / "catalog"))
from _seed import seed  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.deploy._processes import drop_databases  # noqa: E402

TOKEN = "overload-benchmark-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
READINESS = "/.backstage/health/v1/readiness"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


async def _prepare(connection: dict[str, Any], prefix: str, entities: int) -> list[str]:
    """The catalog's tables (its own migrations) with `entities` stitched entities."""
    config = {"backend": {"database": {"client": "pg", "connection": connection, "prefix": prefix}}}
    manager = DatabaseManager(Config.from_data(config))
    try:
        database = manager.for_plugin("catalog")
        await run_migrations(database, MIGRATIONS, plugin_id="catalog")
        engine = await database.get_engine()
        async with engine.begin() as session:
            refs = await seed(session, entities)
        return refs
    finally:
        await manager.close()


def _start_unit(
    folder: Path, port: int, database: dict[str, Any], interval: int, expensive: int
) -> Any:
    config = {
        "backend": {
            "baseUrl": f"http://127.0.0.1:{port}",
            "listen": {"host": "127.0.0.1", "port": port},
            "logging": {"level": "warn", "format": "json"},
            "database": database,
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": TOKEN, "subject": "bench"}}
                ]
            },
        },
        # the seeded entities' provider (`bench`) is not installed: keep what it emitted
        "catalog": {
            "processingInterval": {"seconds": interval},
            "orphanProviderStrategy": "keep",
            "expensiveReads": {"concurrency": expensive},
        },
    }
    (folder / "app-config.yaml").write_text(yaml.safe_dump(config))
    log = (folder / "unit.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "backstage_cli",
        "start",
        "--unit",
        "catalog",
        "--topology",
        str(REPO / "deploy" / "topology.yaml"),
        "--config",
        str(folder / "app-config.yaml"),
    ]
    return subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT)


async def _wait_ready(base_url: str, process: Any) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"the unit exited with {process.returncode}")
            try:
                if (await client.get(READINESS)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the unit did not become ready")


class Phase:
    """What the probes saw during one phase."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.readiness: list[int] = []
        self.readiness_ms: list[float] = []
        self.by_name_ms: list[float] = []
        self.by_name_errors = 0
        self.by_query_status: dict[str, int] = {}
        self.by_query_ms: list[float] = []
        self.backlog: list[int] = []
        self.claimed = 0

    def figures(self, seconds: float) -> dict[str, Any]:
        not_ready = sum(1 for status in self.readiness if status != 200)
        return {
            "phase": self.name,
            "seconds": round(seconds, 1),
            "readiness_probes": len(self.readiness),
            "readiness_not_200": not_ready,
            "readiness_p99_ms": _percentile(self.readiness_ms, 0.99),
            "by_name_requests": len(self.by_name_ms),
            "by_name_errors": self.by_name_errors,
            "by_name_p50_ms": _percentile(self.by_name_ms, 0.5),
            "by_name_p99_ms": _percentile(self.by_name_ms, 0.99),
            "by_query_requests": len(self.by_query_ms),
            "by_query_status": self.by_query_status,
            "by_query_p50_ms": _percentile(self.by_query_ms, 0.5),
            "by_query_rps": round(len(self.by_query_ms) / seconds, 1),
            "processing_claimed": self.claimed,
            "processing_claimed_per_s": round(self.claimed / seconds, 1),
            "backlog_due_over_10s_max": max(self.backlog, default=None),
            "backlog_due_over_10s_median": (
                statistics.median(self.backlog) if self.backlog else None
            ),
        }


async def _readiness(base_url: str, phase: Phase, until: float) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                status = (await client.get(READINESS)).status_code
            except httpx.HTTPError:
                status = 0
            phase.readiness.append(status)
            phase.readiness_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.5)


async def _by_name(base_url: str, refs: list[str], phase: Phase, until: float) -> None:
    rng = random.Random(3)
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS, timeout=60) as client:
        while time.monotonic() < until:
            kind, rest = rng.choice(refs).split(":", 1)
            namespace, name = rest.split("/", 1)
            started = time.perf_counter()
            try:
                response = await client.get(
                    f"/api/catalog/entities/by-name/{kind}/{namespace}/{name}"
                )
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            phase.by_name_ms.append((time.perf_counter() - started) * 1000)
            phase.by_name_errors += 0 if ok else 1
            await asyncio.sleep(0.02)


async def _backlog(admin: Any, phase: Phase, until: float) -> None:
    before = dict(await admin.fetch("SELECT entity_id, next_update_at FROM refresh_state"))
    while time.monotonic() < until:
        phase.backlog.append(
            await admin.fetchval(
                "SELECT count(*) FROM refresh_state "
                "WHERE next_update_at < now() - interval '10 seconds'"
            )
        )
        await asyncio.sleep(1)
    # each claim pushes next_update_at past the interval: those pushed since the start
    # each claim moves an entity's next_update_at: those that moved during the phase
    after = dict(await admin.fetch("SELECT entity_id, next_update_at FROM refresh_state"))
    phase.claimed = sum(1 for key, moment in after.items() if before.get(key) != moment)


async def _by_query_client(
    client: httpx.AsyncClient, limit: int, status: dict[str, int], times: list[float], until: float
) -> None:
    params = {"filter": "kind=component", "limit": str(limit)}
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            response = await client.get("/api/catalog/entities/by-query", params=params)
            outcome = str(response.status_code)
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        times.append((time.perf_counter() - started) * 1000)
        status[outcome] = status.get(outcome, 0) + 1


def _load(base_url: str, clients: int, limit: int, seconds: float, out: Any) -> None:
    """The by-query load, in a process of its own: reading hundreds of large answers takes
    a CPU, and on the probes' event loop it would delay the probes' own readings."""

    async def run() -> None:
        status: dict[str, int] = {}
        times: list[float] = []
        until = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(
            base_url=base_url, headers=HEADERS, timeout=120, limits=limits
        ) as client:
            await asyncio.gather(
                *(_by_query_client(client, limit, status, times, until) for _ in range(clients))
            )
        out.send((status, times))

    asyncio.run(run())


def _lags(log: Path, since: int) -> dict[str, Any]:
    """The server's own event-loop lag warnings (100 ms or more) written after byte `since`."""
    lags = []
    with log.open("rb") as file:
        file.seek(since)
        for line in file.read().decode(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("type") == "eventLoopLag":
                lags.append(float(record.get("lagMs", 0)))
    return {
        "server_loop_lags_over_100ms": len(lags),
        "server_max_loop_lag_ms": max(lags, default=0),
    }


async def _phase(
    name: str, args: argparse.Namespace, base_url: str, refs: list[str], admin: Any, log: Path
) -> dict[str, Any]:
    phase = Phase(name)
    since = await asyncio.to_thread(lambda: log.stat().st_size)
    began = time.monotonic()
    until = began + args.duration
    load = None
    if name == "overload":
        receiver, sender = multiprocessing.Pipe(duplex=False)
        load = multiprocessing.Process(
            target=_load, args=(base_url, args.clients, args.limit, args.duration, sender)
        )
        load.start()
    await asyncio.gather(
        _readiness(base_url, phase, until),
        _by_name(base_url, refs, phase, until),
        _backlog(admin, phase, until),
    )
    if load is not None:
        phase.by_query_status, phase.by_query_ms = await asyncio.to_thread(receiver.recv)
        load.join()
    return {**phase.figures(time.monotonic() - began), **_lags(log, since)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "BACKSTAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=256)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--interval", type=int, default=30, help="catalog.processingInterval (s)")
    parser.add_argument("--pool", type=int, default=10, help="backend.database.pool.max")
    parser.add_argument(
        "--expensive-concurrency",
        type=int,
        default=4,
        help="catalog.expensiveReads.concurrency (a large value: no limit, for comparison)",
    )
    args = parser.parse_args()
    url = urlsplit(args.postgres)
    connection: dict[str, Any] = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        **({"password": url.password} if url.password else {}),
    }
    prefix = f"bench_overload_{uuid.uuid4().hex[:8]}_"
    database = {
        "client": "pg",
        "connection": connection,
        "prefix": prefix,
        "pool": {"max": args.pool},
    }
    process = None
    try:
        refs = await _prepare(connection, prefix, args.entities)
        with tempfile.TemporaryDirectory() as folder:
            port = _free_port()
            base_url = f"http://127.0.0.1:{port}"
            process = _start_unit(
                Path(folder), port, database, args.interval, args.expensive_concurrency
            )
            await _wait_ready(base_url, process)
            admin = await asyncpg.connect(database=f"{prefix}catalog", **connection)
            try:
                results = [
                    await _phase(name, args, base_url, refs, admin, Path(folder) / "unit.log")
                    for name in ("quiet", "overload")
                ]
            finally:
                await admin.close()
            for result in results:
                print(json.dumps(result))
            overload = results[1]
            p99 = overload["by_name_p99_ms"]
            print(
                json.dumps(
                    {
                        "entities": args.entities,
                        "clients": args.clients,
                        "readiness_always_200": overload["readiness_not_200"] == 0,
                        "by_name_p99_under_100ms": p99 is not None and p99 < 100,
                        "processing_keeps_going": overload["processing_claimed"] > 0,
                    }
                )
            )
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        await drop_databases(args.postgres, prefix)


if __name__ == "__main__":
    asyncio.run(main())
