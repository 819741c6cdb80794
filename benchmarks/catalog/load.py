"""Load a running catalog over HTTP and measure it; prints one JSON line of figures.

Works against any server that speaks Backstage's `/api/catalog` (Backstage itself or ours).

1. Ingestion (with `--register URL`): `POST /locations {type: url, target: URL}`, then polls
   `GET /entities/by-query?limit=0` until the generated entities are all visible (a filter on
   the generated kinds counts exactly the N entities of the files) and then until every
   entity is stitched with its relations: for each relation type, the number of entities
   carrying it equals the generator's count (`manifest.json`). `ingest_s` is the time from
   the registration to the first poll that sees everything. Meanwhile a probe requests the
   liveness endpoint every 50 ms on its own connection: its latency shows how long the
   server's event loop is blocked while it ingests. And `--ingest-concurrency` connections
   (16) request entities by name, each a random one of those already seen visible (every
   poll looks up 200 random refs with by-refs and adds those found): `ingest_by_name_*`,
   the requests, their p50/p99/max and the errors (any answer but 200), i.e. what reads
   feel while the catalog ingests.
2. Reads, each for `--duration` seconds after a `--warmup`, with `--concurrency` keep-alive
   connections (each its own loop of requests, the next one sent when the answer is read):
   - `by_name`: `GET /entities/by-name/{kind}/default/{name}`, a random entity each time;
   - `by_query`: `GET /entities/by-query?filter=kind=component,spec.lifecycle=<l>&limit=100`
     (three lifecycles in turn), then every following page by `nextCursor`;
   - `by_query_post` (only when named in `--workloads`): the same pages as the catalog
     client asks for a query with a predicate, `POST /entities/by-query` with
     `{query: {kind: component, spec.lifecycle: <l>}, limit: 100}`, then `{cursor, limit}`;
   - `by_refs`: `POST /entities/by-refs` with 100 random refs;
   - `facets`: `GET /entity-facets?facet=spec.type&facet=spec.lifecycle&filter=kind=component`;
   - `users`: `GET /entities?filter=kind=user` (every user, one response).
   Before timing, each workload's answers are checked (right entity, 100 refs found, the
   cursor chain returns totalItems distinct entities, every user).
   With `--gzip`, each workload runs a second time right after the first, sending
   `Accept-Encoding: gzip` (the client inflates only what it must read: by-query pages, for
   their cursor).
3. The server's own event-loop lag (with `--server-log FILE`, ours only): its lag monitor
   logs each lag over its warning threshold as a JSON line of type `eventLoopLag`; per phase
   (ingestion, each read workload) the worst one is reported, with how long the loop's
   thread ran and waited for a CPU meanwhile (`max_loop_lag_*`), and the number of lags of
   100 ms or more (`loop_lags_over_100ms`), for the serving workers (a unit of one process
   is all serving); the background worker's (processing and stitching, the highest index
   in the supervisor's `Starting N workers` line) apart, `background_max_loop_lag_ms` and
   `background_loop_lags_over_100ms`. On a shared machine a lag is partly the time
   the loop's thread was ready to run but given no CPU: `max_loop_lag_excl_cpu_wait_ms` is
   the worst lag less that wait, the part the server's own work (or its other threads)
   held up the loop.
4. Memory and CPU: the server's process tree (`--pid` and all its descendants: for ours the
   supervisor and every worker, for Backstage its node process) is sampled from /proc every
   100 ms (the tree itself re-read every 2 s): peak RSS of the sum, peak PSS of the sum
   (every 500 ms: shared pages split among the processes sharing them), and CPU seconds
   per phase. The client's own CPU time per
   phase is reported too, so a client-bound run shows (`client_cpu_share` near 1.0 means
   the client used a whole CPU).

The HTTP client is a small HTTP/1.1 client on asyncio streams (uvloop when installed):
keep-alive, Content-Length and chunked bodies, reconnect when the server closed an idle
connection. It costs far less CPU per request than a general-purpose client.

Run (the catalog folder served on loopback, the server started with that host allowed in
`backend.reading.allow`):
  uv run python benchmarks/catalog/load.py --base-url http://127.0.0.1:7007 --token T \
      --catalog /tmp/catalog --register http://127.0.0.1:8080/catalog-info.yaml --pid 1234
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
LIVENESS = "/.backstage/health/v1/liveness"
GENERATED_KINDS = ("domain", "system", "component", "api", "resource", "group", "user")
LIFECYCLES = ("production", "experimental", "deprecated")
REFS_PER_REQUEST = 100
PAGE_LIMIT = 100


class LoadError(Exception):
    """A failure that ends the run with a clear message."""


# --- a minimal HTTP/1.1 client ----------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def data(self) -> bytes:
        """The body, inflated when the server compressed it."""
        if self.headers.get("content-encoding") == "gzip":
            return zlib.decompress(self.body, 31)
        return self.body


class Connection:
    """One keep-alive connection; requests on it are sequential."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host = host
        self.port = port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.host_header = f"Host: {host}:{port}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        fresh = self.writer is None
        try:
            return await self._exchange(method, path, body)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            await self.close()
            if fresh:
                raise LoadError(f"{method} {path}: connection failed: {error!r}") from error
            # The server closed an idle keep-alive connection: once more on a new one.
            return await self._exchange(method, path, body)

    async def _exchange(self, method: str, path: str, body: bytes | None) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.host_header}{self.fixed}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write((head + "\r\n").encode() + (body or b""))
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        payload = await self._body(headers, method)
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, payload)

    async def _body(self, headers: dict[str, str], method: str) -> bytes:
        assert self.reader is not None
        if method == "HEAD":
            return b""
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return b"".join(parts)
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
        return b""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    prefix: str
    token: str

    @staticmethod
    def parse(base_url: str, token: str) -> Target:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise LoadError(f"--base-url must be an http:// URL, got {base_url!r}")
        prefix = url.path.rstrip("/") + "/api/catalog"
        return Target(url.hostname, url.port or 80, prefix, token)

    def connection(self, gzip: bool = False) -> Connection:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if gzip:
            headers["Accept-Encoding"] = "gzip"
        return Connection(self.host, self.port, headers)


async def get_json(conn: Connection, path: str, body: Any = None) -> Any:
    method = "GET" if body is None else "POST"
    payload = None if body is None else msgspec.json.encode(body)
    response = await conn.request(method, path, payload)
    if response.status >= 300:
        text = response.data()[:300].decode(errors="replace")
        raise LoadError(f"{method} {path}: HTTP {response.status}: {text}")
    return msgspec.json.decode(response.data())


# --- the server's process tree from /proc ----------------------------------------------------


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def process_tree(pid: int) -> list[int]:
    tree = [pid]
    index = 0
    while index < len(tree):
        tree.extend(children_of(tree[index]))
        index += 1
    return tree


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as file:
            return int(file.read().split()[1]) * PAGE_SIZE
    except OSError:
        return 0


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot (every process: server, client, Postgres...)."""
    with open("/proc/stat") as file:
        values = [int(v) for v in file.readline().split()[1:9]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK


def kb_field_bytes(path: str, field: str) -> int:
    """A `Name:  N kB` field of a /proc file, in bytes (0 when the file or field is gone)."""
    try:
        with open(path) as file:
            for line in file:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss_bytes(pid: int) -> int:
    """The process's proportional set size: each page shared with other processes counted as
    its share of it."""
    return kb_field_bytes(f"/proc/{pid}/smaps_rollup", "Pss")


def hwm_bytes(pid: int) -> int:
    return kb_field_bytes(f"/proc/{pid}/status", "VmHWM")


class Sampler:
    """Samples the RSS of a process tree every 100 ms in a thread; keeps the peak."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak = 0
        self.peak_pss = 0
        self.last = 0
        self.tree: list[int] = [pid] if pid else []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self.pid is not None:
            if not Path(f"/proc/{self.pid}").exists():
                raise LoadError(f"--pid {self.pid}: no such process")
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        assert self.pid is not None
        tick = 0
        while not self._stop.is_set():
            if tick % 20 == 0:
                self.tree = process_tree(self.pid)
            self.last = sum(rss_bytes(pid) for pid in self.tree)
            self.peak = max(self.peak, self.last)
            if tick % 5 == 0:  # the kernel walks every mapping for it: less often
                self.peak_pss = max(self.peak_pss, sum(pss_bytes(pid) for pid in self.tree))
            tick += 1
            self._stop.wait(0.1)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.tree)


# --- the server's event-loop lag, from its log ------------------------------------------------


class LagLog:
    """The `eventLoopLag` warnings of the server's JSON log, read phase by phase.

    The server is configured to log every lag over its threshold at once (no rate limit), so
    the lines written while a phase ran are that phase's lags. A unit with several workers
    tags each line with its worker's index (`"worker": 0`); the supervisor's first line names
    each index's role, and the background worker (catalog processing and stitching) has the
    highest index. Serving workers' lags are what a request feels, so they are reported apart
    from the background worker's; a unit of one process has no index and is all serving."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.offset = 0
        self.background: set[int] | None = None

    def mark(self) -> None:
        """A phase starts: only lines written from now on count for it."""
        if self.path is not None:
            self.offset = self.path.stat().st_size

    def background_workers(self) -> set[int]:
        """The indexes of background workers, from the supervisor's `Starting N workers:
        0 (serve), ..., N-1 (background)` line (none for a unit of one process)."""
        if self.background is None and self.path is not None:
            with self.path.open("rb") as file:
                for line in file:
                    if b"Starting " not in line or b" workers: " not in line:
                        continue
                    with contextlib.suppress(ValueError):
                        message = str(json.loads(line).get("message", ""))
                        roles = message.split(" workers: ", 1)[1].split(", ")
                        self.background = {
                            int(role.split(" ", 1)[0])
                            for role in roles
                            if role.endswith("(background)")
                        }
                        break
        return self.background or set()

    async def figures(self) -> dict[str, Any]:
        """The phase's worst lag and the number of lags of 100 ms or more, of the serving
        workers (`max_loop_lag_*`, `loop_lags_over_100ms`) and of the background worker
        (`background_*`); {} without a log."""
        if self.path is None:
            return {}
        await asyncio.sleep(0.1)  # the server's log writer batches lines for 10 ms
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read()
        background = self.background_workers()
        serving: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for line in data.splitlines():
            if b'"eventLoopLag"' in line:
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    (others if entry.get("worker") in background else serving).append(entry)
        worst = max(serving, key=lambda entry: entry["lagMs"], default=None)
        return {
            "max_loop_lag_ms": worst["lagMs"] if worst else None,
            "max_loop_lag_running_ms": worst["runningMs"] if worst else None,
            "max_loop_lag_cpu_wait_ms": worst["cpuWaitMs"] if worst else None,
            "loop_lags_over_100ms": lags_over_100ms(serving),
            "max_loop_lag_excl_cpu_wait_ms": max(
                (max(0, e["lagMs"] - (e["cpuWaitMs"] or 0)) for e in serving), default=None
            ),
            "background_max_loop_lag_ms": max((e["lagMs"] for e in others), default=None),
            "background_loop_lags_over_100ms": lags_over_100ms(others),
        }


def lags_over_100ms(lags: list[dict[str, Any]]) -> int:
    return sum(entry["count"] for entry in lags if entry["lagMs"] >= 100)


def lag_note(figures: dict[str, Any]) -> str:
    if "max_loop_lag_ms" not in figures:
        return ""
    worst = figures["max_loop_lag_ms"]
    background_worst = figures["background_max_loop_lag_ms"]
    background = (
        "; background worker: none logged"
        if background_worst is None
        else f"; background worker max {background_worst} ms, "
        f"{figures['background_loop_lags_over_100ms']} >= 100 ms"
    )
    if worst is None:
        return f"  loop lag of serving workers: none logged{background}"
    return (
        f"  loop lag of serving workers max {worst} ms (ran "
        f"{figures['max_loop_lag_running_ms']} ms, waited {figures['max_loop_lag_cpu_wait_ms']}"
        f" ms), {figures['loop_lags_over_100ms']} >= 100 ms; less CPU wait max "
        f"{figures['max_loop_lag_excl_cpu_wait_ms']} ms{background}"
    )


def probe_note(figures: dict[str, Any]) -> str:
    if "ingest_by_name_requests" not in figures:
        return ""
    return (
        f"; by-name meanwhile: {figures['ingest_by_name_requests']} requests, p50 "
        f"{figures['ingest_by_name_p50_ms']} ms, p99 {figures['ingest_by_name_p99_ms']} ms, "
        f"{figures['ingest_by_name_errors']} errors"
    )


# --- ingestion -------------------------------------------------------------------------------


@dataclass
class Manifest:
    entities: int
    kinds: dict[str, int]
    relations: dict[str, int]
    refs: list[str]

    @staticmethod
    def load(folder: Path) -> Manifest:
        try:
            data = json.loads((folder / "manifest.json").read_text())
            refs = (folder / "refs.txt").read_text().split()
        except OSError as error:
            raise LoadError(f"--catalog {folder}: not a generated catalog ({error})") from error
        return Manifest(data["entities"], data["kinds"], data["entitiesWithRelation"], refs)


def kinds_filter() -> str:
    return "filter=" + ",".join(f"kind={kind}" for kind in GENERATED_KINDS)


async def count(conn: Connection, prefix: str, query: str) -> int:
    page = await get_json(conn, f"{prefix}/entities/by-query?limit=0&{query}")
    return int(page["totalItems"])


async def missing_relations(conn: Connection, prefix: str, manifest: Manifest) -> dict[str, Any]:
    """Relation types whose entity count is not yet the generator's: {type: [seen, expected]}."""
    missing: dict[str, Any] = {}
    for relation, expected in manifest.relations.items():
        seen = await count(conn, prefix, f"filter=relations.{relation.lower()}")
        if seen != expected:
            missing[relation] = [seen, expected]
    return missing


async def lag_probe(target: Target, stop: asyncio.Event, latencies: list[float]) -> None:
    conn = target.connection()
    try:
        while not stop.is_set():
            started = time.perf_counter()
            response = await conn.request("GET", LIVENESS)
            if response.status == 200:
                latencies.append(time.perf_counter() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
    finally:
        await conn.close()


class ByNameProbe:
    """By-name requests at a fixed concurrency for the whole ingestion, each for a random
    entity already seen visible. Every poll of the ingestion looks up a random sample of the
    generator's refs with by-refs and adds those found to the pool, so the pool grows with
    the ingestion and spreads over the catalog; until the first entity is visible the
    connections wait. Any answer but 200 is an error (an entity once served must stay so)."""

    SAMPLE = 200

    def __init__(self, target: Target, manifest: Manifest, concurrency: int, seed: int) -> None:
        self.target = target
        self.refs = manifest.refs
        self.concurrency = concurrency
        self.rng = random.Random(seed)
        self.visible: list[str] = []
        self.known: set[str] = set()
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None
        self.started: float | None = None
        self.elapsed = 0.0

    async def discover(self, conn: Connection) -> None:
        """Adds to the pool a random sample of the generator's refs that are visible now."""
        if self.concurrency == 0 or len(self.known) == len(self.refs):
            return
        sample = self.rng.sample(self.refs, min(len(self.refs), self.SAMPLE))
        found = await get_json(
            conn, f"{self.target.prefix}/entities/by-refs", {"entityRefs": sample}
        )
        for ref, item in zip(sample, found["items"], strict=True):
            if item is not None and ref not in self.known:
                self.known.add(ref)
                self.visible.append(entity_path(self.target.prefix, ref))

    async def run(self, stop: asyncio.Event) -> None:
        """Requests until `stop` is set."""
        await asyncio.gather(*(self.worker(index, stop) for index in range(self.concurrency)))
        if self.started is not None:
            self.elapsed = time.perf_counter() - self.started

    async def worker(self, index: int, stop: asyncio.Event) -> None:
        rng = random.Random(index)
        conn = self.target.connection()
        try:
            while not stop.is_set():
                if not self.visible:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.05)
                    continue
                self.started = self.started or time.perf_counter()
                path = self.visible[rng.randrange(len(self.visible))]
                started = time.perf_counter()
                try:
                    response = await conn.request("GET", path)
                except LoadError as error:
                    self.fail(str(error))
                    continue
                self.latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    self.fail(f"GET {path}: HTTP {response.status}: {response.body[:200]!r}")
        finally:
            await conn.close()

    def fail(self, message: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or message

    def figures(self) -> dict[str, Any]:
        """`ingest_by_name_*`: requests, requests/s, p50/p99/max latency, errors."""
        if self.concurrency == 0:
            return {}
        requests = len(self.latencies)
        return {
            "ingest_by_name_requests": requests,
            "ingest_by_name_rps": round(requests / self.elapsed, 1) if self.elapsed else None,
            "ingest_by_name_p50_ms": ms(percentile(self.latencies, 50)),
            "ingest_by_name_p99_ms": ms(percentile(self.latencies, 99)),
            "ingest_by_name_max_ms": ms(max(self.latencies, default=0.0)),
            "ingest_by_name_errors": self.errors,
            "ingest_by_name_first_error": self.first_error,
        }


async def ingest(
    target: Target,
    manifest: Manifest,
    register: str,
    timeout: float,
    sampler: Sampler,
    lag_log: LagLog,
    by_name: ByNameProbe,
) -> dict[str, Any]:
    conn = target.connection()
    lag_log.mark()
    stop = asyncio.Event()
    lags: list[float] = []
    probe = asyncio.create_task(lag_probe(target, stop, lags))
    readers = asyncio.create_task(by_name.run(stop))
    cpu_before = sampler.cpu()
    machine_before = machine_busy_seconds()
    started = time.perf_counter()
    response = await conn.request(
        "POST",
        f"{target.prefix}/locations",
        msgspec.json.encode({"type": "url", "target": register}),
    )
    if response.status != 201:
        raise LoadError(f"POST /locations: HTTP {response.status}: {response.body[:300]!r}")
    visible_s: float | None = None
    missing: dict[str, Any] = {}
    try:
        while (elapsed := time.perf_counter() - started) < timeout:
            poll_started = time.perf_counter() - started
            seen = await count(conn, target.prefix, kinds_filter())
            if seen:
                await by_name.discover(conn)
            if seen == manifest.entities:
                visible_s = visible_s or poll_started
                missing = await missing_relations(conn, target.prefix, manifest)
                if not missing:
                    break
            elif seen > manifest.entities:
                raise LoadError(
                    f"{seen} entities of the generated kinds, expected {manifest.entities}"
                )
            waiting = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in missing.items())
            relations = f"; relations still missing: {waiting}" if waiting else ""
            progress(f"ingesting: {elapsed:6.1f} s, {seen}/{manifest.entities} visible{relations}")
            await asyncio.sleep(0.5)
        else:
            raise LoadError(
                f"not ingested after {timeout:.0f} s: visible at {visible_s}, {missing}"
            )
    finally:
        stop.set()
        await probe
        await readers
        await conn.close()
    return {
        "ingest_s": round(poll_started, 2),
        "ingest_visible_s": round(visible_s or poll_started, 2),
        "ingest_server_cpu_s": round(sampler.cpu() - cpu_before, 2) if sampler.pid else None,
        "ingest_machine_cpu_s": round(machine_busy_seconds() - machine_before, 2),
        "ingest_rss_mb": round(sampler.last / 2**20, 1) if sampler.pid else None,
        "liveness_p50_ms": ms(percentile(lags, 50)),
        "liveness_p99_ms": ms(percentile(lags, 99)),
        "liveness_max_ms": ms(max(lags, default=0.0)),
        **by_name.figures(),
        **await lag_log.figures(),
    }


# --- read workloads --------------------------------------------------------------------------


class Cursors:
    """Per connection: the next by-query page to ask for (a first page or a cursor), as a
    GET with a filter or, with `post`, as the catalog client sends a query with a predicate:
    a POST of `{query}`, then of `{cursor}`."""

    def __init__(self, prefix: str, rng: random.Random, *, post: bool = False) -> None:
        self.prefix = prefix
        self.post = post
        self.cursor: str | None = None
        self.turn = rng.randrange(len(LIFECYCLES))

    def request(self) -> tuple[str, str, bytes | None]:
        """The next page's method, path and body."""
        if self.post:
            return "POST", f"{self.prefix}/entities/by-query", msgspec.json.encode(self._body())
        return "GET", self._path(), None

    def _body(self) -> dict[str, Any]:
        if self.cursor is not None:
            return {"cursor": self.cursor, "limit": PAGE_LIMIT}
        query = {"kind": "component", "spec.lifecycle": self._next_lifecycle()}
        return {"query": query, "limit": PAGE_LIMIT}

    def _path(self) -> str:
        if self.cursor is not None:
            return f"{self.prefix}/entities/by-query?cursor={quote(self.cursor)}&limit={PAGE_LIMIT}"
        lifecycle = self._next_lifecycle()
        query = f"filter=kind=component,spec.lifecycle={lifecycle}&limit={PAGE_LIMIT}"
        return f"{self.prefix}/entities/by-query?{query}"

    def _next_lifecycle(self) -> str:
        self.turn = (self.turn + 1) % len(LIFECYCLES)
        return LIFECYCLES[self.turn]


class PageInfo(msgspec.Struct):
    nextCursor: str | None = None


class Page(msgspec.Struct):
    items: list[msgspec.Raw]
    pageInfo: PageInfo
    totalItems: int | None = None


PAGE_DECODER = msgspec.json.Decoder(Page)


@dataclass
class Workload:
    name: str
    step: Callable[[Connection, random.Random], Awaitable[Response]]
    check: Callable[[Target, bool], Awaitable[None]]


def entity_path(prefix: str, ref: str) -> str:
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    return f"{prefix}/entities/by-name/{quote(kind)}/{quote(namespace)}/{quote(name)}"


class Workloads:
    """The requests of each read workload, prepared in advance, and their checks."""

    def __init__(self, target: Target, manifest: Manifest, seed: int) -> None:
        rng = random.Random(seed)
        refs = manifest.refs
        self.manifest = manifest
        self.prefix = prefix = target.prefix
        self.checked_refs = refs[:: max(1, len(refs) // 20)]
        self.names = [entity_path(prefix, ref) for ref in rng.sample(refs, min(len(refs), 5000))]
        self.bodies = [
            msgspec.json.encode({"entityRefs": rng.sample(refs, min(len(refs), REFS_PER_REQUEST))})
            for _ in range(500)
        ]
        self.facets = (
            f"{prefix}/entity-facets?facet=spec.type&facet=spec.lifecycle&filter=kind=component"
        )
        self.users = f"{prefix}/entities?filter=kind=user"
        self.cursors: dict[tuple[int, bool], Cursors] = {}

    def all(self) -> list[Workload]:
        return [
            Workload("by_name", self.by_name, self.check_by_name),
            Workload("by_query", self.by_query, check_cursor_chain),
            Workload("by_query_post", self.by_query_post, check_posted_cursor_chain),
            Workload("by_refs", self.by_refs, self.check_by_refs),
            Workload("facets", self.get_facets, self.check_facets),
            Workload("users", self.get_users, self.check_users),
        ]

    async def by_name(self, conn: Connection, rng: random.Random) -> Response:
        return await conn.request("GET", self.names[rng.randrange(len(self.names))])

    async def by_query(self, conn: Connection, rng: random.Random) -> Response:
        return await self._next_page(conn, rng, post=False)

    async def by_query_post(self, conn: Connection, rng: random.Random) -> Response:
        return await self._next_page(conn, rng, post=True)

    async def _next_page(self, conn: Connection, rng: random.Random, *, post: bool) -> Response:
        state = self.cursors.get((id(conn), post))
        if state is None:
            state = self.cursors[id(conn), post] = Cursors(self.prefix, rng, post=post)
        response = await conn.request(*state.request())
        if response.status == 200:
            state.cursor = PAGE_DECODER.decode(response.data()).pageInfo.nextCursor
        return response

    async def by_refs(self, conn: Connection, rng: random.Random) -> Response:
        body = self.bodies[rng.randrange(len(self.bodies))]
        return await conn.request("POST", f"{self.prefix}/entities/by-refs", body)

    async def get_facets(self, conn: Connection, rng: random.Random) -> Response:
        return await conn.request("GET", self.facets)

    async def get_users(self, conn: Connection, rng: random.Random) -> Response:
        return await conn.request("GET", self.users)

    async def check_by_name(self, target: Target, gzip: bool) -> None:
        async with connected(target, gzip) as conn:
            for ref in self.checked_refs:
                found = await get_json(conn, entity_path(self.prefix, ref))
                if found["metadata"]["name"] != ref.split("/", 1)[1]:
                    raise LoadError(f"by-name {ref}: got {found['metadata']['name']}")

    async def check_by_refs(self, target: Target, gzip: bool) -> None:
        async with connected(target, gzip) as conn:
            body = msgspec.json.decode(self.bodies[0])
            found = await get_json(conn, f"{self.prefix}/entities/by-refs", body)
            if len(found["items"]) != len(body["entityRefs"]) or None in found["items"]:
                raise LoadError("by-refs: not every generated ref was found")

    async def check_facets(self, target: Target, gzip: bool) -> None:
        async with connected(target, gzip) as conn:
            found = await get_json(conn, self.facets)
            total = sum(bucket["count"] for bucket in found["facets"]["spec.lifecycle"])
            if total != self.manifest.kinds["Component"]:
                raise LoadError(f"facets: {total} components by lifecycle, expected every one")

    async def check_users(self, target: Target, gzip: bool) -> None:
        async with connected(target, gzip) as conn:
            found = await get_json(conn, self.users)
            if len(found) != self.manifest.kinds["User"]:
                raise LoadError(f"users: {len(found)}, expected {self.manifest.kinds['User']}")


@contextlib.asynccontextmanager
async def connected(target: Target, gzip: bool = False) -> AsyncIterator[Connection]:
    conn = target.connection(gzip)
    try:
        yield conn
    finally:
        await conn.close()


async def check_cursor_chain(target: Target, gzip: bool, *, post: bool = False) -> None:
    """Following nextCursor from the first page yields totalItems distinct entities."""
    conn = target.connection(gzip)
    cursors = Cursors(target.prefix, random.Random(0), post=post)
    try:
        response = await conn.request(*cursors.request())
        first = PAGE_DECODER.decode(response.data())
        uids: set[str] = set()
        page = first
        for _ in range(100_000):
            for item in page.items:
                uids.add(msgspec.json.decode(item)["metadata"]["uid"])
            if page.pageInfo.nextCursor is None:
                break
            cursors.cursor = page.pageInfo.nextCursor
            response = await conn.request(*cursors.request())
            if response.status != 200:
                raise LoadError(f"by-query cursor page: HTTP {response.status}")
            page = PAGE_DECODER.decode(response.data())
        if first.totalItems is None or len(uids) != first.totalItems:
            raise LoadError(f"by-query: cursors gave {len(uids)} entities of {first.totalItems}")
    finally:
        await conn.close()


async def check_posted_cursor_chain(target: Target, gzip: bool) -> None:
    """`check_cursor_chain` with the pages posted."""
    await check_cursor_chain(target, gzip, post=True)


@dataclass
class RunResult:
    latencies: list[float]
    errors: int
    first_error: str | None
    elapsed: float
    bytes: int


async def drive(
    target: Target, workload: Workload, concurrency: int, seconds: float, gzip: bool, seed: int
) -> RunResult:
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    received = 0

    async def worker(index: int) -> None:
        nonlocal errors, first_error, received
        rng = random.Random(seed * 1000 + index)
        conn = target.connection(gzip)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await workload.step(conn, rng)
                latencies.append(time.perf_counter() - started)
                received += len(response.body)
                if response.status != 200:
                    errors += 1
                    first_error = first_error or f"HTTP {response.status}: {response.body[:200]!r}"
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    return RunResult(latencies, errors, first_error, time.perf_counter() - started, received)


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(pct * 10) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def measure(
    target: Target,
    workload: Workload,
    options: argparse.Namespace,
    gzip: bool,
    sampler: Sampler,
    lag_log: LagLog,
) -> dict[str, Any]:
    lag_log.mark()
    await workload.check(target, gzip)
    if options.warmup > 0:
        await drive(target, workload, options.concurrency, options.warmup, gzip, options.seed)
    client_before = time.process_time()
    server_before = sampler.cpu()
    machine_before = machine_busy_seconds()
    run = await drive(target, workload, options.concurrency, options.duration, gzip, options.seed)
    client_cpu = time.process_time() - client_before
    server_cpu = sampler.cpu() - server_before
    machine_cpu = machine_busy_seconds() - machine_before
    if run.errors:
        raise LoadError(f"{workload.name}: {run.errors} failed requests, first: {run.first_error}")
    requests = len(run.latencies)
    figures: dict[str, Any] = {
        "rps": round(requests / run.elapsed, 1),
        "p50_ms": ms(percentile(run.latencies, 50)),
        "p95_ms": ms(percentile(run.latencies, 95)),
        "p99_ms": ms(percentile(run.latencies, 99)),
        "requests": requests,
        "kb_per_req": round(run.bytes / max(1, requests) / 1024, 1),
        "client_cpu_share": round(client_cpu / run.elapsed, 2),
        "server_cpu_us_per_req": round(server_cpu / max(1, requests) * 1e6),
        "server_cpu_share": round(server_cpu / run.elapsed, 2),
        # The rest of the machine's busy CPU: Postgres, and anything else running.
        "others_cpu_share": round((machine_cpu - server_cpu - client_cpu) / run.elapsed, 2),
    }
    if sampler.pid is None:  # no server figures: "others" then includes the server
        figures.update(server_cpu_us_per_req=None, server_cpu_share=0.0)
    figures.update(await lag_log.figures())  # over the check, the warm-up and the run
    label = f"{workload.name}{' gzip' if gzip else ''}"
    progress(
        f"{label:<14} {figures['rps']:>8} req/s  p50 {figures['p50_ms']} ms  "
        f"p95 {figures['p95_ms']} ms  p99 {figures['p99_ms']} ms  "
        f"CPU: server {figures['server_cpu_share']:.0%}, client {figures['client_cpu_share']:.0%}"
        f", others {figures['others_cpu_share']:.0%}{lag_note(figures)}"
    )
    return figures


# --- the run ---------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def edit_one_file(folder: Path) -> tuple[Path, bytes, str, str]:
    """Give a component of a file in the middle a new description; (file, its original
    bytes, the component's ref, the new description)."""
    import yaml

    files = sorted(folder.glob("entities-*.yaml"))
    # from the middle file on, the first that holds a component
    for path in files[len(files) // 2 :] + files[: len(files) // 2]:
        original = path.read_bytes()
        documents = list(yaml.safe_load_all(original))
        components = [doc for doc in documents if doc.get("kind") == "Component"]
        if components:
            break
    else:
        raise LoadError(f"no component in the entities-*.yaml files of {folder}")
    entity = components[0]
    marker = f"changed at {time.time_ns()}"
    entity["metadata"]["description"] = marker
    ref = f"component:{entity['metadata'].get('namespace', 'default')}/{entity['metadata']['name']}"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path, original, ref, marker


async def change_one_file(target: Target, folder: Path, timeout: float) -> dict[str, Any]:
    """Edit one served file and time how long until the catalog serves the change; the
    file is restored afterwards."""
    path, original, ref, marker = edit_one_file(folder)
    conn = target.connection()
    try:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            found = await get_json(conn, entity_path(target.prefix, ref))
            if found["metadata"].get("description") == marker:
                visible_s = time.monotonic() - started
                progress(f"the change to {path.name} was served after {visible_s:.1f} s")
                return {"file": path.name, "entity": ref, "visible_s": round(visible_s, 1)}
            await asyncio.sleep(0.5)
        raise LoadError(f"the change to {path.name} ({ref}) was not served in {timeout} s")
    finally:
        path.write_bytes(original)
        await conn.close()


def worst_lags(key: str, workloads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The worst lag over the workloads of `key`, of serving workers and of the background
    worker: `{key}_max_loop_lag_ms`, `{key}_background_max_loop_lag_ms`."""
    worst: dict[str, Any] = {}
    for role in ("", "background_"):
        logged = [figures[f"{role}max_loop_lag_ms"] for figures in workloads.values()]
        worst[f"{key}_{role}max_loop_lag_ms"] = max(filter(None, logged), default=None)
    return worst


async def run(options: argparse.Namespace) -> dict[str, Any]:
    target = Target.parse(options.base_url, options.token)
    manifest = Manifest.load(options.catalog)
    sampler = Sampler(options.pid)
    sampler.start()
    lag_log = LagLog(options.server_log)
    figures: dict[str, Any] = {"label": options.label, "entities": manifest.entities}
    try:
        if options.register:
            probe = ByNameProbe(target, manifest, options.ingest_concurrency, options.seed)
            figures.update(
                await ingest(
                    target,
                    manifest,
                    options.register,
                    options.ingest_timeout,
                    sampler,
                    lag_log,
                    probe,
                )
            )
            progress(f"ingested in {figures['ingest_s']} s{probe_note(figures)}{lag_note(figures)}")
        else:
            conn = target.connection()
            seen = await count(conn, target.prefix, kinds_filter())
            await conn.close()
            if seen != manifest.entities:
                raise LoadError(f"{seen} entities in the catalog, expected {manifest.entities}")
        workloads = Workloads(target, manifest, options.seed).all()
        selected = set(options.workloads.split(","))
        unknown = selected - {w.name for w in workloads}
        if unknown:
            raise LoadError(f"unknown workloads: {sorted(unknown)}")
        passes = [False, True] if options.gzip else [False]
        for gzip in passes:
            figures["reads_gzip" if gzip else "reads"] = {}
        # Each workload's gzip pass right after its identity pass: on a shared machine, the
        # two are then measured under the same load from elsewhere.
        for workload in workloads:
            if workload.name not in selected:
                continue
            for gzip in passes:
                figures["reads_gzip" if gzip else "reads"][workload.name] = await measure(
                    target, workload, options, gzip, sampler, lag_log
                )
        if options.server_log is not None:
            for key in ("reads", "reads_gzip")[: len(passes)]:
                figures.update(worst_lags(key, figures[key]))
        if options.change_timeout:
            figures["change"] = await change_one_file(
                target, options.catalog, options.change_timeout
            )
    finally:
        sampler.stop()
    if options.pid:
        figures["peak_rss_mb"] = round(sampler.peak / 2**20, 1)
        figures["peak_pss_mb"] = round(sampler.peak_pss / 2**20, 1)
        figures["peak_hwm_main_mb"] = round(hwm_bytes(options.pid) / 2**20, 1)
    figures["settings"] = {
        "concurrency": options.concurrency,
        "duration_s": options.duration,
        "warmup_s": options.warmup,
        "cpus": os.cpu_count(),
    }
    return figures


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the backend, e.g. http://127.0.0.1:7007")
    parser.add_argument("--token", required=True, help="a static external-access token")
    parser.add_argument("--catalog", type=Path, required=True, help="folder made by generate.py")
    parser.add_argument("--register", help="URL of the catalog's root file to register")
    parser.add_argument("--pid", type=int, help="server process: RSS and CPU are sampled")
    parser.add_argument(
        "--server-log",
        type=Path,
        help="the server's JSON log, where its lag monitor logs each lag (ours)",
    )
    parser.add_argument("--label", default="", help="a name for the JSON line")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per workload")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each")
    parser.add_argument("--gzip", action="store_true", help="a second pass with gzip")
    parser.add_argument("--ingest-timeout", type=float, default=1800.0)
    parser.add_argument(
        "--ingest-concurrency",
        type=int,
        default=16,
        help="connections requesting visible entities by name during the ingestion (0: none)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--change-timeout",
        type=float,
        default=0.0,
        help="after the reads, edit one file of --catalog and wait up to this many seconds "
        "for the change to be served (0: no such step)",
    )
    parser.add_argument(
        "--workloads",
        default="by_name,by_query,by_refs,facets,users",
        help="comma-separated subset of by_name,by_query,by_query_post,by_refs,facets,users",
    )
    options = parser.parse_args(argv)
    if options.concurrency < 1 or options.duration <= 0 or options.warmup < 0:
        parser.error("--concurrency >= 1, --duration > 0 and --warmup >= 0")
    if options.ingest_concurrency < 0:
        parser.error("--ingest-concurrency >= 0")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        figures = runner(run(options))
    except LoadError as error:
        print(f"load.py: {error}", file=sys.stderr)
        return 1
    print(json.dumps(figures, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
