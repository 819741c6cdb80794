"""The app's first and repeat loads in Chromium, on the `all` unit.

Starts the `all` unit (the development config, a free loopback port) with the built bundle
(`backstage-py app build` first), then, best of `--repeats` rounds:

- `cold`: a fresh browser context (empty cache): from navigation to the catalog list rendered
  ("All Components (6)"), the guest sign-in click included;
- `warm`: the same context opens the app again (assets from the browser's cache, the guest
  signed in again by the frontend on its own): from navigation to the list rendered;
- bytes of the cold load: over the wire (headers and bodies as sent: brotli where the client
  accepts it) and as the decoded bodies, whose ratio is what precompression saves.

Prints one line per measure, the warm/cold and wire/decoded ratios, and a JSON line.

Not measured here yet: the same bundle served by Backstage's own `@backstage/plugin-app-backend`
(the reference backend of benchmarks/catalog/backstage would need the app package installed).

Run: `uv run python benchmarks/app/bench.py [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, Response, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
RENDERED = "All Components (6)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_unit(port: int, folder: Path) -> subprocess.Popen[bytes]:
    config = folder / "bench.yaml"
    config.write_text(
        f"backend:\n  baseUrl: http://127.0.0.1:{port}\n"
        f"  listen: {{host: 127.0.0.1, port: {port}}}\n  logging: {{level: warn}}\n"
    )
    script = Path(sys.executable).parent / "backstage-py"
    args = [str(script), "start", "--config", "app-config.yaml", "--config", str(config)]
    unit = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/.backstage/health/v1/readiness")
            if ready.status_code == 200:
                return unit
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    unit.kill()
    raise SystemExit("the all unit did not get ready")


def _timed_load(page: Page, url: str, *, sign_in: bool) -> float:
    started = time.perf_counter()
    page.goto(url)
    if sign_in:
        page.get_by_role("button", name="Enter").click()
    page.get_by_text(RENDERED).wait_for()
    return time.perf_counter() - started


def _round(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    cold = _timed_load(page, url, sign_in=True)
    wire = decoded = 0
    for response in list(responses):
        sizes = response.request.sizes()
        wire += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        # a redirect, or a body no longer available, counts as empty
        with contextlib.suppress(Exception):
            decoded += len(response.body())
    responses.clear()
    page.close()
    page = context.new_page()
    warm = _timed_load(page, url, sign_in=False)
    context.close()
    return {"cold_s": cold, "warm_s": warm, "wire_bytes": wire, "decoded_bytes": decoded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    if not (ROOT / "packages/app/dist/index.html.tmpl").is_file():
        raise SystemExit("build the app first: uv run backstage-py app build")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        unit = _start_unit(port, Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox"]
                )
                rounds = [
                    _round(browser, f"http://127.0.0.1:{port}/") for _ in range(options.repeats)
                ]
                browser.close()
        finally:
            unit.terminate()
            unit.wait(timeout=60)
    best = {key: min(r[key] for r in rounds) for key in rounds[0]}
    print(f"cold load to the catalog list: {best['cold_s'] * 1000:.0f} ms")
    print(f"warm load to the catalog list: {best['warm_s'] * 1000:.0f} ms")
    print(f"first load over the wire: {best['wire_bytes'] / 1024:.0f} KiB")
    print(f"first load decoded: {best['decoded_bytes'] / 1024:.0f} KiB")
    print(f"warm/cold: {best['warm_s'] / best['cold_s']:.2f}")
    print(f"wire/decoded: {best['wire_bytes'] / best['decoded_bytes']:.2f}")
    print(json.dumps({"unit": "all", "repeats": options.repeats, **best}))


if __name__ == "__main__":
    main()
