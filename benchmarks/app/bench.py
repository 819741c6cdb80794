"""The app's first and repeat loads in Chromium: ours (the `all` unit) against Backstage's own
`@backstage/plugin-app-backend` serving the same built bundle, in one run.

Builds nothing: `backstage-py app build` first, and `npm ci` in benchmarks/catalog/backstage.

- ours: the `all` unit with the development config (`app-config.yaml`: the example catalog,
  guest sign-in, embedded SQLite) on a free loopback port;
- Backstage: `benchmarks/catalog/backstage/app.js` (backend-defaults with the app, auth,
  guest provider and catalog plugins; Node 20, `NODE_ENV=development` as the guest provider
  requires) on another free port, Postgres with a database prefix of this run (dropped at the
  end). Its app plugin finds the bundle by package name (`app`), as in a Backstage repository
  where the backend depends on the app through a workspace link: this script links
  `packages/app` into the peer's `node_modules/app` (a symlink is what Yarn's `link:` and
  npm's `file:` make; a `file:` dependency would have npm install the frontend's own
  dependencies a second time). Its config files: the app package's `app-config.yaml` (in a
  Backstage repository the backend reads the same root config the app was built with, and
  Backstage's app plugin injects only the backend's config, where ours adds the one the build
  left in `index.html`: the catalog as the landing page), the peer's `app-config.yaml`, and
  this run's, with the `app` section and catalog locations of ours (read from
  `app-config.yaml`, file targets made absolute) and `app.baseUrl` and `backend.baseUrl` on
  its own port: both frontends get the same config and entities.

Both are ready (readiness, then the six example Components in the catalog) before the first
round. Each round, ours then Backstage, `--repeats` rounds:

- `cold`: a fresh browser context (empty cache): from navigation to the catalog list rendered
  ("All Components (6)"), the guest sign-in click included;
- `warm`: the same context opens the app again (assets from the browser's cache, the guest
  signed in again by the frontend on its own): from navigation to the list rendered;
- bytes of the cold load: over the wire (headers and bodies as sent: brotli where the client
  accepts it) and as the decoded bodies.

and, of the warm load, the time Chromium's main thread was busy (`Performance.getMetrics`:
`TaskDuration`, and `ScriptDuration` for JavaScript alone).

Prints, per implementation, the median and best of each measure, the ratios ours/Backstage of
the medians (below 1: ours is faster or smaller), any request of the cold load that failed
(4xx/5xx), and a JSON line with every round.

Run: `uv run python benchmarks/app/bench.py [--repeats 5]`.

Measured (2026-12-07, 2 CPUs shared with other work at load 6-13, `uv run python
benchmarks/app/bench.py --repeats 7`, medians, best in brackets; no failed request on either):

| | ours | Backstage | ours/Backstage |
|---|---|---|---|
| cold load to the list | 3,374 ms (2,418) | 4,226 ms (2,380) | 0.80 |
| warm load to the list | 2,506 ms (2,116) | 3,115 ms (2,434) | 0.80 |
| warm: main thread busy | 1,978 ms | 2,339 ms | 0.85 |
| warm: of which JavaScript | 1,267 ms | 1,447 ms | 0.88 |
| first load over the wire | 812 KiB | 996 KiB | 0.82 |
| first load decoded | 3,267 KiB | 3,269 KiB | 1.00 |

Two earlier runs on the same machine gave cold/warm ratios of 0.74/0.74 (7 rounds) and
0.95/1.03 (5 rounds): the load of the machine moves a round by more than a second, so the times
are the same within the noise; the bytes ratio (brotli variants against the gzip of Backstage's
compression middleware) is 0.82 in every run.

Why the warm load is most of a cold one: it is the frontend's own work, on either backend.
Chromium's main thread is busy for 80-90% of the warm load (about 0.6 s to run the cached
scripts, then the lazy chunks, the guest refresh, about 17 catalog calls and rendering the
list), while each of those calls takes tens of milliseconds on the server; the cold load adds
the download of 812 KiB over loopback, compiling the scripts without a cache and the sign-in
click. Backstage's warm load is the same share of its cold one (0.74 of it, as ours).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from playwright.sync_api import Page, Response, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
PEER_DIR = ROOT / "benchmarks" / "catalog" / "backstage"
sys.path.insert(0, str(PEER_DIR.parent))
from compare import Postgres  # noqa: E402  (the catalog comparison's database helper)

RENDERED = "All Components (6)"
COMPONENTS = 6
READINESS = "/.backstage/health/v1/readiness"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_CONFIG = ROOT / "packages" / "app" / "app-config.yaml"
MEASURES = ("cold_s", "warm_s", "warm_script_s", "warm_task_s", "wire_bytes", "decoded_bytes")
LINES = (
    ("cold_s", "cold load to the catalog list", "ms", 1000),
    ("warm_s", "warm load to the catalog list", "ms", 1000),
    ("warm_task_s", "warm load's main-thread work (Chromium's TaskDuration)", "ms", 1000),
    ("warm_script_s", "  of which JavaScript (ScriptDuration)", "ms", 1000),
    ("wire_bytes", "first load over the wire", "KiB", 1 / 1024),
    ("decoded_bytes", "first load decoded", "KiB", 1 / 1024),
)


@dataclass
class Peer:
    """One implementation serving the app: its process, URL and catalog credentials."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    rounds: list[dict[str, float]] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_ours(port: int, folder: Path) -> Peer:
    config = folder / "ours.yaml"
    config.write_text(
        f"backend:\n  baseUrl: http://127.0.0.1:{port}\n"
        f"  listen: {{host: 127.0.0.1, port: {port}}}\n  logging: {{level: warn}}\n"
    )
    script = Path(sys.executable).parent / "backstage-py"
    args = [str(script), "start", "--config", "app-config.yaml", "--config", str(config)]
    unit = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Peer("ours", f"http://127.0.0.1:{port}", unit)


def _link_app() -> None:
    """Makes `packages/app` the peer's `app` package, as a workspace link would."""
    link = PEER_DIR / "node_modules" / "app"
    target = ROOT / "packages" / "app"
    if link.is_symlink() and link.resolve() == target.resolve():
        return
    if link.exists() or link.is_symlink():
        raise SystemExit(f"{link} exists and is not a link to {target}")
    link.symlink_to(target, target_is_directory=True)


def _peer_config(port: int, prefix: str, postgres: Postgres) -> dict[str, Any]:
    ours = yaml.safe_load((ROOT / "app-config.yaml").read_text())
    locations = []
    for location in ours["catalog"]["locations"]:
        if location["type"] == "file":
            location = {**location, "target": str((ROOT / location["target"]).resolve())}
        locations.append(location)
    base_url = f"http://127.0.0.1:{port}"
    return {
        "app": {**ours.get("app", {}), "baseUrl": base_url},
        "backend": {
            "baseUrl": base_url,
            "listen": {"host": "127.0.0.1", "port": port},
            "database": {"client": "pg", "connection": postgres.connection(), "prefix": prefix},
        },
        "auth": {"providers": {"guest": {}}},
        "catalog": {"locations": locations},
    }


def _start_backstage(port: int, folder: Path, prefix: str, postgres: Postgres) -> Peer:
    if not (PEER_DIR / "node_modules" / "@backstage" / "plugin-app-backend").is_dir():
        raise SystemExit(f"Backstage is not installed: run `npm ci` in {PEER_DIR}")
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node not found (Node 20 or newer)")
    _link_app()
    config = folder / "backstage.yaml"
    config.write_text(json.dumps(_peer_config(port, prefix, postgres)))  # JSON is YAML
    base = PEER_DIR / "app-config.yaml"
    configs = [APP_CONFIG, base, config]
    args = [node, "app.js", *(arg for path in configs for arg in ("--config", str(path)))]
    env = {**os.environ, "NODE_ENV": "development", "LOG_LEVEL": "warn"}
    env.pop("APP_CONFIG_backend_listen_port", None)
    peer = subprocess.Popen(
        args, cwd=PEER_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_config = yaml.safe_load(base.read_text())
    token = base_config["backend"]["auth"]["externalAccess"][0]["options"]["token"]
    return Peer("backstage", f"http://127.0.0.1:{port}", peer, {"Authorization": f"Bearer {token}"})


def _wait_ready(peer: Peer) -> None:
    """Waits for readiness and for the example Components, so no round waits for ingestion."""
    deadline = time.monotonic() + 240
    query = "/api/catalog/entities/by-query?filter=kind=component&limit=1"
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            raise SystemExit(f"{peer.name} exited with {peer.process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(peer.url + READINESS).status_code == 200:
                answer = httpx.get(peer.url + query, headers=peer.headers)
                if answer.status_code == 200 and answer.json()["totalItems"] == COMPONENTS:
                    return
        time.sleep(0.2)
    raise SystemExit(f"{peer.name} did not get ready with its {COMPONENTS} components")


def _timed_load(page: Page, url: str, *, sign_in: bool) -> float:
    started = time.perf_counter()
    page.goto(url)
    if sign_in:
        page.get_by_role("button", name="Enter").click()
    page.get_by_text(RENDERED).wait_for()
    return time.perf_counter() - started


def _round(browser: Any, peer: Peer) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    cold = _timed_load(page, peer.url + "/", sign_in=True)
    wire = decoded = 0
    for response in list(responses):
        if response.status >= 400:
            peer.failed.add(f"{response.status} {response.request.method} {response.url}")
        sizes = response.request.sizes()
        wire += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        # a redirect, or a body no longer available, counts as empty
        with contextlib.suppress(Exception):
            decoded += len(response.body())
    responses.clear()
    page.close()
    page = context.new_page()
    devtools = context.new_cdp_session(page)
    devtools.send("Performance.enable")
    warm = _timed_load(page, peer.url + "/", sign_in=False)
    metrics = {m["name"]: m["value"] for m in devtools.send("Performance.getMetrics")["metrics"]}
    context.close()
    return {
        "cold_s": cold,
        "warm_s": warm,
        "warm_script_s": metrics["ScriptDuration"],
        "warm_task_s": metrics["TaskDuration"],
        "wire_bytes": wire,
        "decoded_bytes": decoded,
    }


@contextlib.contextmanager
def _peers(folder: Path) -> Iterator[list[Peer]]:
    postgres = Postgres(os.environ.get("BACKSTAGE_TEST_POSTGRES_URL", POSTGRES_URL))
    prefix = f"bench_app_{os.getpid()}_{secrets.token_hex(3)}_"
    peers: list[Peer] = []
    try:
        peers.append(_start_ours(_free_port(), folder))
        peers.append(_start_backstage(_free_port(), folder, prefix, postgres))
        for peer in peers:
            _wait_ready(peer)
        yield peers
    finally:
        for peer in peers:
            peer.process.terminate()
        for peer in peers:
            try:
                peer.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                peer.process.kill()
        postgres.drop_prefix(prefix)


def _summary(peer: Peer) -> dict[str, dict[str, float]]:
    return {
        "median": {key: statistics.median(r[key] for r in peer.rounds) for key in MEASURES},
        "best": {key: min(r[key] for r in peer.rounds) for key in MEASURES},
    }


def _report(peers: list[Peer], repeats: int) -> None:
    summaries = {peer.name: _summary(peer) for peer in peers}
    for name, summary in summaries.items():
        median, best = summary["median"], summary["best"]
        print(f"{name}: median (best) of {repeats} rounds")
        for key, label, unit, scale in LINES:
            print(f"  {label}: {median[key] * scale:.0f} {unit} ({best[key] * scale:.0f})")
    ours, theirs = summaries["ours"]["median"], summaries["backstage"]["median"]
    ratios = {key: ours[key] / theirs[key] for key in MEASURES}
    print("ours/Backstage (medians): " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    for peer in peers:
        for failure in sorted(peer.failed):
            print(f"{peer.name}: failed request in a cold load: {failure}")
    rounds = {peer.name: peer.rounds for peer in peers}
    print(
        json.dumps(
            {"unit": "all", "repeats": repeats, **summaries, "ratios": ratios, "rounds": rounds}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    if not (ROOT / "packages/app/dist/index.html.tmpl").is_file():
        raise SystemExit("build the app first: uv run backstage-py app build")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with (
        tempfile.TemporaryDirectory() as folder,
        _peers(Path(folder)) as peers,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(options.repeats):
            for peer in peers:
                peer.rounds.append(_round(browser, peer))
        browser.close()
    _report(peers, options.repeats)


if __name__ == "__main__":
    main()
