"""Ours against Backstage on the same catalog, the same Postgres and the same load.

1. Generates the catalog (`generate.py`, or reuses `--catalog DIR`) and serves its folder
   from a static HTTP server on 127.0.0.1 (a free port).
2. For each implementation in turn (ours, then Backstage):
   - writes its config: a free port, Postgres with a database prefix of its own for this run
     (or, ours only, SQLite files in a temporary folder), a static external-access token,
     `backend.reading.allow` for the static server, catalog rules allowing every kind, and
     `catalog.processingInterval` stretched to a day so reads are not mixed with processing;
     ours also logs every event-loop lag of 20 ms or more (`backend.eventLoopLag`), which
     `load.py` reads from its log (`max_loop_lag_ms` per phase);
   - starts it (ours: `backstage-py start --unit <unit> --config <file>`; Backstage:
     `node index.js` in `backstage/`, which must have been installed with `npm ci`) in its
     own session and waits for `/.backstage/health/v1/readiness`;
   - runs `load.py` against it (registration, ingestion, the read workloads, RSS by pid);
   - stops it (SIGTERM, then SIGKILL) and drops the databases of its prefix.
3. Prints each JSON line of `load.py`, then one JSON line with the ratios and the figures
   issue 23 sets targets on, and whether each is met (`met`, and `all_met`), also printed
   one per line on stderr with a last line `met: every target` or `met: NOT every target`:
   - at every size: ingestion >= 5x faster; the peak RSS of our whole process tree
     (supervisor and workers) <= that of Backstage's (its node process and any child);
   - below 100,000 entities: by-name, by-refs and by-query >= 3x the requests/s; by-query
     and facets p95 <= a third of Backstage's;
   - from 100,000 entities on: during the ingestion, by-name p99 < 50 ms at
     `--ingest-concurrency` (16 by default from that size on, 0 below it) and no
     event-loop lag of 100 ms or more on a serving worker (the background worker's lags are
     printed apart, with no target); the list of every user >= 2x the requests/s.
   With `--gzip`, it also has `gzip_ratio`: per implementation and workload, requests/s
   with `Accept-Encoding: gzip` over requests/s without, from the same run.
4. With `--repeat N`, steps 2-3 run N times on the same catalog (fresh databases each
   time): each run's lines (with `"run": i`, and one line of that run's ratios), then one
   line per implementation with the median of every figure over the runs that did not
   fail, and last the ratios and targets computed from those medians.

Run:
  uv run python benchmarks/catalog/compare.py --entities 10000 --db postgres
  uv run python benchmarks/catalog/compare.py --entities 10000 --repeat 3     # issue 23
  uv run python benchmarks/catalog/compare.py --entities 100000 --repeat 3 \
      --ingest-timeout 14400                                                  # issue 23
  uv run python benchmarks/catalog/compare.py --entities 10000 --db sqlite     # ours alone
  uv run python benchmarks/catalog/compare.py --entities 500 --only backstage
  uv run python benchmarks/catalog/compare.py --entities 10000 --only ours --gzip \
      --workloads by_refs,users --duration 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BACKSTAGE_DIR = HERE / "backstage"
HOST = "127.0.0.1"
READINESS = "/.backstage/health/v1/readiness"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
KINDS = ["Domain", "System", "Component", "API", "Resource", "Group", "User", "Location"]
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LAG_THRESHOLD = "20ms"
"""Ours logs every event-loop lag from this long on (no rate limit); load.py reads them."""


class CompareError(Exception):
    """A failure that ends the run with a clear message."""


def progress(message: str) -> None:
    print(f"compare: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --- the catalog's static server ---------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""


@contextlib.contextmanager
def static_server(folder: Path) -> Iterator[int]:
    """Serves `folder` on 127.0.0.1 from a thread; yields the port."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


# --- Postgres ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    url: str

    def connection(self) -> dict[str, Any]:
        """The `backend.database.connection` object for both implementations."""
        parts = urlsplit(self.url)
        connection: dict[str, Any] = {
            "host": parts.hostname or HOST,
            "port": parts.port or 5432,
            "user": parts.username or "postgres",
        }
        if parts.password:
            connection["password"] = parts.password
        return connection

    def drop_prefix(self, prefix: str) -> list[str]:
        """Drops every database whose name starts with `prefix` (made by this run)."""
        return asyncio.run(self._drop(prefix))

    async def _drop(self, prefix: str) -> list[str]:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            rows = await conn.fetch(
                "SELECT datname FROM pg_database WHERE left(datname, $1) = $2",
                len(prefix),
                prefix,
            )
            names = [row["datname"] for row in rows]
            for name in names:
                quoted = '"' + name.replace('"', '""') + '"'
                await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            return names
        finally:
            await conn.close()


# --- the two implementations ---------------------------------------------------------------


@dataclass
class Run:
    """One implementation's server for one measurement."""

    name: str
    command: list[str]
    cwd: Path
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    _log_file: IO[bytes] | None = None

    def start(self) -> None:
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> float:
        started = time.perf_counter()
        deadline = time.monotonic() + START_TIMEOUT
        url = f"http://{HOST}:{self.port}{READINESS}"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise CompareError(f"{self.name} exited before it was ready:\n{tail(self.log)}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=2) as response,
            ):
                if response.status == 200:
                    return time.perf_counter() - started
            time.sleep(0.1)
        raise CompareError(f"{self.name} was not ready in {START_TIMEOUT:.0f} s:\n{tail(self.log)}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def tail(path: Path, limit: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-limit:]
    return ""


def backend_config(
    port: int,
    database: dict[str, Any],
    token: str,
    static_port: int,
    processing_interval: float | None = None,
) -> dict[str, Any]:
    """The config both implementations read (Backstage's keys; ours reads the same)."""
    interval = {"hours": 24} if processing_interval is None else {"seconds": processing_interval}
    return {
        "backend": {
            "baseUrl": f"http://{HOST}:{port}",
            "listen": {"host": HOST, "port": port},
            "database": database,
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": token, "subject": "catalog-bench"}}
                ]
            },
            "reading": {"allow": [{"host": f"{HOST}:{static_port}"}]},
        },
        "catalog": {
            "processingInterval": interval,
            "rules": [{"allow": KINDS}],
        },
    }


def run_environment(log_level: str) -> dict[str, str]:
    env = dict(os.environ)
    env["LOG_LEVEL"] = log_level
    env.pop("APP_CONFIG_backend_listen_port", None)
    return env


def ours_run(options: argparse.Namespace, workdir: Path, config: dict[str, Any], port: int) -> Run:
    script = Path(sys.executable).parent / "backstage-py"
    if not script.exists():
        raise CompareError(f"{script} not found: run `uv sync --all-packages` first")
    config["backend"]["logging"] = {"level": options.log_level, "format": "json"}
    config["backend"]["eventLoopLag"] = {"warnThreshold": LAG_THRESHOLD, "warnInterval": 0}
    path = workdir / "app-config.ours.yaml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    command = [str(script), "start", "--unit", options.unit, "--config", str(path)]
    env = run_environment(options.log_level)
    return Run("ours", command, REPO, port, env, workdir / "ours.log")


def backstage_run(
    options: argparse.Namespace, workdir: Path, config: dict[str, Any], port: int
) -> Run:
    if not (BACKSTAGE_DIR / "node_modules" / "@backstage" / "plugin-catalog-backend").is_dir():
        raise CompareError(f"Backstage is not installed: run `npm ci` in {BACKSTAGE_DIR}")
    node = shutil.which("node")
    if node is None:
        raise CompareError("node not found (Node 20 or newer)")
    path = workdir / "app-config.backstage.yaml"
    path.write_text(json.dumps(config, indent=2))
    base = BACKSTAGE_DIR / "app-config.yaml"
    command = [node, "index.js", "--config", str(base), "--config", str(path)]
    env = run_environment(options.log_level)
    env["NODE_ENV"] = "production"
    return Run("backstage", command, BACKSTAGE_DIR, port, env, workdir / "backstage.log")


def database_for(
    options: argparse.Namespace, name: str, prefix: str, workdir: Path
) -> dict[str, Any]:
    if options.db == "sqlite":
        folder = workdir / f"sqlite-{name}"
        folder.mkdir()
        return {"client": "better-sqlite3", "connection": {"directory": str(folder)}}
    postgres = Postgres(options.postgres_url)
    return {"client": "pg", "connection": postgres.connection(), "prefix": prefix}


def measure(
    name: str,
    options: argparse.Namespace,
    catalog: Path,
    static_port: int,
    workdir: Path,
    before_drop: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """One implementation: start, load, stop, drop its databases; load.py's figures.
    `before_drop` (Postgres) is given the prefix of its databases once the server has
    stopped and before they are dropped (`floor.py` copies the catalog's rows then)."""
    port = free_port()
    token = secrets.token_hex(16)
    prefix = f"bench_catalog_{os.getpid()}_{secrets.token_hex(3)}_{name}_"
    database = database_for(options, name, prefix, workdir)
    config = backend_config(port, database, token, static_port, options.processing_interval)
    build = ours_run if name == "ours" else backstage_run
    run = build(options, workdir, config, port)
    progress(f"starting {name}: {' '.join(run.command)}")
    try:
        run.start()
        ready_s = run.wait_ready()
        progress(f"{name} ready in {ready_s:.1f} s; loading")
        assert run.process is not None
        log = run.log if name == "ours" else None
        profile = options.profile if name == "ours" else None
        with profiled(run.process.pid, profile, workdir):
            figures = load(name, options, catalog, static_port, port, token, run.process.pid, log)
        figures["ready_s"] = round(ready_s, 2)
        figures["db"] = options.db
        return figures
    finally:
        run.stop()
        if options.db == "postgres":
            if before_drop is not None:
                before_drop(prefix)
            dropped = Postgres(options.postgres_url).drop_prefix(prefix)
            progress(f"{name} stopped; dropped {', '.join(dropped) or 'no database'}")
        if options.keep_logs:
            progress(f"{name} log: {run.log}")


@contextlib.contextmanager
def profiled(pid: int, output: str | None, workdir: Path) -> Iterator[None]:
    """With `output`, py-spy samples the process tree of `pid` (waits included: `--idle`)
    while the block runs, and writes there a flame graph (SVG), a speedscope profile (a
    `.json` name) or the collapsed stacks (a `.txt` name); the command lines in it name the
    repository's files and the run's folder (`workdir`) without the machine's paths."""
    if output is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise CompareError("py-spy not found: `uv pip install py-spy` into the environment")
    forms = {".json": "speedscope", ".txt": "raw"}
    form = forms.get(Path(output).suffix, "flamegraph")
    command = [spy, "record", "--idle", "--subprocesses", "--rate", "100", "--nonblocking"]
    command += ["--format", form, "--output", output, "--pid", str(pid)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=120)
        if process.returncode not in (0, -signal.SIGINT):
            progress(f"py-spy: {errors.decode(errors='replace').strip()[-500:]}")
        profile = Path(output)
        if profile.exists():
            text = profile.read_text().replace(f"{workdir}/", "").replace(f"{REPO}/", "")
            profile.write_text(text)
        progress(f"profile: {output}")


def load(
    name: str,
    options: argparse.Namespace,
    catalog: Path,
    static_port: int,
    port: int,
    token: str,
    pid: int,
    server_log: Path | None,
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(HERE / "load.py"),
        f"--base-url=http://{HOST}:{port}",
        f"--token={token}",
        f"--catalog={catalog}",
        f"--register=http://{HOST}:{static_port}/catalog-info.yaml",
        f"--pid={pid}",
        f"--label={name}",
        f"--concurrency={options.concurrency}",
        f"--duration={options.duration}",
        f"--warmup={options.warmup}",
        f"--ingest-timeout={options.ingest_timeout}",
        f"--ingest-concurrency={options.ingest_concurrency}",
    ]
    if server_log is not None:
        command.append(f"--server-log={server_log}")
    if options.gzip:
        command.append("--gzip")
    if options.processing_interval is not None:
        # one interval for the change to be seen, plus the time to re-process it
        command.append(f"--change-timeout={options.processing_interval * 2}")
    if options.workloads:
        command.append(f"--workloads={options.workloads}")
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        last = ""
        for line in process.stderr:  # progress, shown as it comes
            sys.stderr.write(line)
            last = line.strip() or last
        output = process.stdout.read()
    if process.returncode != 0:
        raise CompareError(last or f"load.py failed against {name} (exit {process.returncode})")
    figures: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return figures


# --- ratios ----------------------------------------------------------------------------------

LARGE = 100_000
"""From this many entities, the targets are those of a large catalog (issue 23)."""

Target = tuple[str, float]

TARGETS: dict[str, Target] = {
    "ingest_speedup": (">=", 5.0),
    "peak_rss": ("<=", 1.0),
}
"""Targets at every size: ingestion 5x Backstage's; the peak RSS of our whole process tree
(supervisor and workers) at most that of Backstage's."""

SMALL_TARGETS: dict[str, Target] = {
    "by_name_rps": (">=", 3.0),
    "by_refs_rps": (">=", 3.0),
    "by_query_rps": (">=", 3.0),
    "by_query_p95": ("<=", 1 / 3),
    "facets_p95": ("<=", 1 / 3),
}
"""Below `LARGE` entities (10,000 in the issue): 3x the requests/s of the reads by name, by
refs and by query; a third of Backstage's p95 for by-query and facets."""

LARGE_TARGETS: dict[str, Target] = {
    "ours_ingest_by_name_p99_ms": ("<", 50.0),
    "ours_ingest_serving_lags_over_100ms": ("<=", 0.0),
    "users_rps": (">=", 2.0),
}
"""From `LARGE` entities on: by-name p99 under 50 ms at the probe's concurrency during the
ingestion, no event-loop lag of 100 ms or more on a serving worker during the ingestion, and
2x Backstage's requests/s for the list of every user."""


def read(figures: dict[str, Any], workload: str, key: str) -> float | None:
    value = figures.get("reads", {}).get(workload, {}).get(key)
    return float(value) if value is not None else None


def quotient(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    value = quotient(numerator, denominator)
    return None if value is None else round(value, 3)


def targets_for(entities: int) -> dict[str, Target]:
    """The issue's targets for a catalog of `entities`."""
    return TARGETS | (LARGE_TARGETS if entities >= LARGE else SMALL_TARGETS)


def ratios(ours: dict[str, Any], backstage: dict[str, Any], entities: int) -> dict[str, Any]:
    """The issue's comparisons, our own figures it sets bounds on, and whether each target is
    met; a figure is None when a side has none (and its target then is not met)."""
    raw = {
        "ingest_speedup": quotient(backstage.get("ingest_s"), ours.get("ingest_s")),
        **{
            f"{workload}_rps": quotient(
                read(ours, workload, "rps"), read(backstage, workload, "rps")
            )
            for workload in ("by_name", "by_refs", "by_query", "users")
        },
        "by_query_p95": quotient(
            read(ours, "by_query", "p95_ms"), read(backstage, "by_query", "p95_ms")
        ),
        "facets_p95": quotient(read(ours, "facets", "p95_ms"), read(backstage, "facets", "p95_ms")),
        "ingest_by_name_p99": quotient(
            ours.get("ingest_by_name_p99_ms"), backstage.get("ingest_by_name_p99_ms")
        ),
        "peak_rss": quotient(ours.get("peak_rss_mb"), backstage.get("peak_rss_mb")),
        "peak_pss": quotient(ours.get("peak_pss_mb"), backstage.get("peak_pss_mb")),
    }
    absolute = {
        f"{name}_ingest_by_name_p99_ms": figures.get("ingest_by_name_p99_ms")
        for name, figures in (("ours", ours), ("backstage", backstage))
    } | {
        "ours_ingest_serving_lags_over_100ms": ours.get("loop_lags_over_100ms"),
        "ours_ingest_serving_max_lag_ms": ours.get("max_loop_lag_ms"),
        "ours_ingest_background_lags_over_100ms": ours.get("background_loop_lags_over_100ms"),
        "ours_ingest_background_max_lag_ms": ours.get("background_max_loop_lag_ms"),
    }
    targets = targets_for(entities)
    values = raw | absolute
    met: dict[str, bool] = {}
    for key, (op, bound) in targets.items():
        value = values[key]
        met[key] = (
            value is not None
            and {
                ">=": value >= bound,
                "<=": value <= bound,
                "<": value < bound,
            }[op]
        )
    return {
        "ratios": {key: None if value is None else round(value, 3) for key, value in raw.items()},
        "figures": absolute,
        "targets": {key: f"{op} {round(bound, 3):g}" for key, (op, bound) in targets.items()},
        "met": met,
        "all_met": all(met.values()),
    }


def report(summary: dict[str, Any]) -> None:
    """One line per figure: its value, its target and whether it is met; then the verdict."""
    values = summary["ratios"] | summary["figures"]
    for key, value in values.items():
        target = summary["targets"].get(key)
        verdict = "-" if target is None else ("met" if summary["met"][key] else "NOT met")
        progress(f"{key:<40} {value!s:>8}  target {target or '-':<7} {verdict}")
    progress(f"met: {'every target' if summary['all_met'] else 'NOT every target'}")


def median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each number the median of its values in `runs` (nested objects alike, None values
    left out); anything else (labels, messages) the first run's."""
    merged: dict[str, Any] = {}
    for key in dict.fromkeys(key for run in runs for key in run):
        values = [run[key] for run in runs if run.get(key) is not None]
        if values and all(isinstance(v, dict) for v in values):
            merged[key] = median_figures(values)
        elif values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            median = statistics.median(values)
            merged[key] = round(median, 3) if isinstance(median, float) else median
        else:
            merged[key] = values[0] if values else None
    return merged


def gzip_ratios(figures: dict[str, Any]) -> dict[str, float | None]:
    """Per workload: requests/s with `Accept-Encoding: gzip` over requests/s without."""
    compressed = figures.get("reads_gzip", {})
    return {
        workload: ratio(compressed[workload].get("rps"), read(figures, workload, "rps"))
        for workload in compressed
    }


# --- the run ---------------------------------------------------------------------------------


def generated_catalog(options: argparse.Namespace, workdir: Path) -> Path:
    if options.catalog is not None:
        return Path(options.catalog)
    folder = workdir / "catalog"
    command = [sys.executable, str(HERE / "generate.py"), f"--entities={options.entities}"]
    command += [f"--out={folder}", f"--seed={options.seed}"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return folder


def implementations(options: argparse.Namespace) -> list[str]:
    if options.db == "sqlite":
        return ["ours"]
    return ["ours", "backstage"] if options.only is None else [options.only]


def compare(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every implementation `--repeat` times (each run on fresh databases); each run's lines,
    then with several runs the median of every figure, and the summary of the medians."""
    catalog = generated_catalog(options, workdir)
    manifest = json.loads((catalog / "manifest.json").read_text())
    entities = manifest["entities"]
    progress(f"catalog of {entities} entities in {catalog}")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in implementations(options)}
    with static_server(catalog) as static_port:
        for index in range(options.repeat):
            # one flame graph, of the first run
            run_options = (
                options if index == 0 else argparse.Namespace(**vars(options) | {"profile": None})
            )
            results = measure_each(run_options, catalog, static_port, workdir, index + 1)
            for name, figures in results.items():
                runs[name].append(figures)
            if options.repeat > 1:
                line = {"run": index + 1} | summarize(results, entities, options)
                print(json.dumps(line, separators=(",", ":")), flush=True)
    results = {name: representative(name, figures) for name, figures in runs.items()}
    if options.repeat > 1:
        for figures in results.values():
            print(json.dumps(figures, separators=(",", ":")), flush=True)
    summary = summarize(results, entities, options)
    if options.repeat > 1:
        summary["median_of"] = options.repeat
    if "ratios" in summary:
        report(summary)
    return summary


def measure_each(
    options: argparse.Namespace, catalog: Path, static_port: int, workdir: Path, run: int
) -> dict[str, dict[str, Any]]:
    """One run of every implementation; prints each one's figures as they come."""
    results: dict[str, dict[str, Any]] = {}
    for name in implementations(options):
        progress(f"run {run} of {options.repeat}: {name}")
        try:
            results[name] = measure(name, options, catalog, static_port, workdir)
        except CompareError as error:
            progress(f"{name}: {error}")
            results[name] = {"label": name, "error": str(error)}
        results[name]["run"] = run
        print(json.dumps(results[name], separators=(",", ":")), flush=True)
    return results


def representative(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The single run, else the medians of the runs that did not fail (the failures named)."""
    if len(runs) == 1:
        return runs[0]
    good = [figures for figures in runs if "error" not in figures]
    if not good:
        return {"label": name, "error": "; ".join(str(figures["error"]) for figures in runs)}
    figures = median_figures(good)
    figures.pop("run", None)
    figures["median_of_runs"] = [run["run"] for run in good]
    return figures


def summarize(
    results: dict[str, dict[str, Any]], entities: int, options: argparse.Namespace
) -> dict[str, Any]:
    """The comparisons of `results` (when both implementations ran and neither failed), and
    the gzip ratios with `--gzip`."""
    summary: dict[str, Any] = {"entities": entities, "db": options.db}
    succeeded = {name: figures for name, figures in results.items() if "error" not in figures}
    if options.gzip:
        summary["gzip_ratio"] = {name: gzip_ratios(figures) for name, figures in succeeded.items()}
        for name, by_workload in summary["gzip_ratio"].items():
            for workload, value in by_workload.items():
                plain = succeeded[name]["reads"][workload]
                zipped = succeeded[name]["reads_gzip"][workload]
                progress(
                    f"{name} gzip_ratio {workload:<9} {value!s:>6}  (req/s identity "
                    f"{plain['rps']}, gzip {zipped['rps']}; server CPU per request "
                    f"{plain['server_cpu_us_per_req']} / {zipped['server_cpu_us_per_req']} us)"
                )
    if "ours" in succeeded and "backstage" in succeeded:
        summary.update(ratios(succeeded["ours"], succeeded["backstage"], entities))
    return summary


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--only", choices=["ours", "backstage"], help="one implementation")
    parser.add_argument("--catalog", help="a folder made by generate.py (else one is generated)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BACKSTAGE_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a Postgres that may create databases (trust auth or a password in the URL)",
    )
    parser.add_argument(
        "--unit",
        default="catalog",
        help="our deployment unit hosting the catalog (default: catalog alone)",
    )
    parser.add_argument("--log-level", default="info", help="both servers' log level")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--gzip", action="store_true", help="a second read pass with gzip")
    parser.add_argument("--workloads", help="a subset of load.py's workloads, comma-separated")
    parser.add_argument("--ingest-timeout", type=float, default=1800.0)
    parser.add_argument(
        "--ingest-concurrency",
        type=int,
        help="connections requesting visible entities by name during the ingestion (0: none; "
        f"default 16 from {LARGE:,} entities on, where the issue asks for it, else 0: the "
        "probe slows Backstage's single process more than ours, so it flatters ingest_speedup)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of the whole comparison (fresh databases each); figures are their medians",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    parser.add_argument(
        "--profile",
        help="ours: py-spy's flame graph of the server from the registration to the end of "
        "the reads (SVG; speedscope for a .json name, collapsed stacks for .txt)",
    )
    parser.add_argument(
        "--processing-interval",
        type=float,
        help="seconds between re-processings of an entity (default: a day, so reads are not "
        "mixed with processing); with it, a last step edits one file of the catalog and "
        "measures how long until the change is served",
    )
    options = parser.parse_args(argv)
    if options.db == "sqlite" and options.only == "backstage":
        parser.error("--db sqlite measures ours alone: Backstage runs on Postgres here")
    if options.entities < 20 or options.concurrency < 1 or options.duration <= 0:
        parser.error("--entities >= 20, --concurrency >= 1 and --duration > 0")
    if options.ingest_concurrency is None:
        options.ingest_concurrency = 16 if options.entities >= LARGE else 0
    if options.repeat < 1 or options.ingest_concurrency < 0:
        parser.error("--repeat >= 1 and --ingest-concurrency >= 0")
    return options


def exit_on_signal(signum: int, _frame: object) -> None:
    """Turns SIGTERM and SIGHUP into `SystemExit`, so that the `finally` blocks stop the servers
    (each in a session of its own, out of reach of signals to this one) and drop their
    databases, as after Ctrl-C."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, exit_on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    try:
        summary = compare(options, workdir)
    finally:
        if not options.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
