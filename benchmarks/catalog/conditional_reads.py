"""What conditional reads save: a catalog processing pass over files that did not change,
read from an integration (the loopback GitHub, in a process of its own), against a pass
that reads them all.

Two workloads over the same `--files` catalog files of one private repository:

- `files`: one `url` location per file (`.../blob/main/services/s<i>/catalog-info.yaml`).
  The unchanged pass asks for the branch's commit (once for the files read together) and
  finds each file's ETag confirmed at it; the full pass follows a commit that changed
  `README.md` alone and has the server ignore `If-None-Match`, so every file is sent,
  parsed and processed again.
- `glob`: one location `.../blob/main/services/**/catalog-info.yaml` (the git trees API and
  a blob per match). The unchanged pass asks for the commit only; the full pass follows a
  commit that changed `README.md` alone, so the tree and every blob are read and parsed.

A pass marks every Location entity due and waits until the catalog is idle. Passes
alternate (full, unchanged) `--rounds` times; the medians of wall time, the catalog
process's CPU time and the loopback server's CPU time are printed with their ratios
(unchanged / full; the target is at most 0.1). Entities are unchanged in both passes, so
neither writes; an unchanged Location entity also stops after its reads (no
post-processing, no result hash).

Run: `uv run python benchmarks/catalog/conditional_reads.py [--files 1000] [--rounds 3]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from backstage_backend_plugin_api import create_backend_module
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import refresh_state
from backstage_plugin_catalog_node import CatalogProcessing

HERE = Path(__file__).parent
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Loopback:
    def __init__(self, files: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_loopback_github.py"), "--files", str(files)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    async def control(self, path: str) -> None:
        async with httpx.AsyncClient() as client:
            (await client.post(f"{self.base_url}{path}")).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def run_workload(
    name: str, loopback: Loopback, files: int, rounds: int
) -> dict[str, list[float]]:
    found: list[Any] = []

    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            found.append(processing)

        env.register_init(init)

    probe = create_backend_module(plugin_id="catalog", module_id="bench", register=register)
    blob = f"{loopback.base_url}/acme/mono/blob/main"
    if name == "files":
        targets = [f"{blob}/services/s{i}/catalog-info.yaml" for i in range(files)]
    else:
        targets = [f"{blob}/services/**/catalog-info.yaml"]
    host = loopback.base_url.split("://", 1)[1]
    config = {
        "backend": {"database": {"client": "better-sqlite3", "connection": ":memory:"}},
        "integrations": {
            "github": [
                {
                    "host": host,
                    "apiBaseUrl": f"{loopback.base_url}/api/v3",
                    "rawBaseUrl": f"{loopback.base_url}/raw",
                    "token": "bench",
                }
            ]
        },
        "catalog": {
            "locations": [{"type": "url", "target": target} for target in targets],
            "processingInterval": {"hours": 1},
        },
    }
    figures: dict[str, list[float]] = {}
    async with start_test_backend(features=[catalog_plugin(), probe], config=config) as test:
        processing = found[0].catalog.processing
        await processing.wait_until_idle()
        response = await test.client.get(
            "/api/catalog/entities", params={"filter": "kind=component", "fields": "kind"}
        )
        assert len(response.json()) == files, len(response.json())

        async def one_pass(kind: str) -> None:
            if name == "files":
                await loopback.control(f"/_bench/conditional?on={0 if kind == 'full' else 1}")
            if kind == "full":
                await loopback.control("/_bench/touch")
            past = datetime.now(UTC) - timedelta(seconds=1)
            async with processing.transaction() as connection:
                await connection.execute(
                    sa.update(refresh_state)
                    .where(refresh_state.c.entity_ref.like("location:%"))
                    .values(next_update_at=past)
                )
            server_before, catalog_before = loopback.cpu(), time.process_time()
            start = time.perf_counter()
            processing.wake()
            await processing.wait_until_idle()
            figures.setdefault(f"{kind} wall", []).append(time.perf_counter() - start)
            figures.setdefault(f"{kind} catalog cpu", []).append(
                time.process_time() - catalog_before
            )
            figures.setdefault(f"{kind} server cpu", []).append(loopback.cpu() - server_before)

        for _ in range(rounds):
            await one_pass("full")
            await one_pass("unchanged")
    return figures


def report(name: str, files: int, figures: dict[str, list[float]]) -> None:
    print(f"\n{name}: {files} unchanged files, median of {len(figures['full wall'])} passes")
    print(f"{'':22}{'full':>10}{'unchanged':>12}{'ratio':>9}")
    for measure in ("wall", "catalog cpu", "server cpu"):
        full = statistics.median(figures[f"full {measure}"])
        unchanged = statistics.median(figures[f"unchanged {measure}"])
        ratio = unchanged / full if full else float("nan")
        print(f"{measure + ' (s)':22}{full:>10.3f}{unchanged:>12.3f}{ratio:>9.3f}")


async def main(files: int, rounds: int, workloads: list[str]) -> None:
    loopback = Loopback(files)
    try:
        for name in workloads:
            report(name, files, await run_workload(name, loopback, files, rounds))
    finally:
        loopback.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workload", choices=["files", "glob"], action="append")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.files, arguments.rounds, arguments.workload or ["glob", "files"]))
