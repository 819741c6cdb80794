"""Event-loop lag while an entity provider hands the catalog N entities at once.

The generated catalog of `benchmarks/catalog/generate.py` (N entities of every kind, with
their relations) is applied by a provider as one full mutation, on a fresh Postgres
database (dropped afterwards), and the backend's lag monitor logs every lag of 20 ms or
more. Phases, each with its worst lag (and how long the loop's thread ran and waited for a
CPU meanwhile):

1. `apply`: the full mutation of N entities;
2. `process`: until the catalog is idle (every entity processed and stitched);
3. `reapply`: the same mutation again (nothing changed);
4. `replace`: a full mutation of half of them (the other half is deleted), until idle.

    BACKSTAGE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \
      uv run python benchmarks/catalog_processing/provider_lag.py --entities 10000

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_plugin_api import core_services as core
from backstage_backend_plugin_api import create_backend_module, create_service_factory
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_node import (
    CatalogProcessing,
    DeferredEntity,
    EntityProviderConnection,
    FullMutation,
)
from bench import drop  # type: ignore[import-not-found]

GENERATE = Path(__file__).resolve().parents[1] / "catalog" / "generate.py"
LOCATION = "url:https://example.com/catalog-info.yaml"


class Provider:
    name = "lag-bench"

    def __init__(self) -> None:
        self.connection: EntityProviderConnection | None = None

    async def connect(self, connection: EntityProviderConnection) -> None:
        self.connection = connection


def generated_entities(count: int, seed: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, str(GENERATE), f"--entities={count}", f"--out={folder}"]
        subprocess.run([*command, f"--seed={seed}"], check=True, stdout=subprocess.DEVNULL)
        entities: list[dict[str, Any]] = []
        for path in sorted(Path(folder).glob("entities-*.yaml")):
            entities.extend(yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader))
    for entity in entities:
        annotations = entity["metadata"].setdefault("annotations", {})
        annotations["backstage.io/managed-by-location"] = LOCATION
        annotations["backstage.io/managed-by-origin-location"] = LOCATION
    return entities


class Lags:
    """The monitor's warnings (JSON lines), read phase by phase."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.start = 0

    async def phase(self, run: Callable[[], Awaitable[None]]) -> dict[str, Any]:
        self.start = len(self.lines)
        started = time.perf_counter()
        await run()
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.1)  # the monitor's next probe
        lags = [json.loads(line) for line in self.lines[self.start :]]
        lags = [entry for entry in lags if entry.get("type") == "eventLoopLag"]
        worst = max(lags, key=lambda entry: entry["lagMs"], default=None)
        return {
            "s": round(elapsed, 2),
            "max_loop_lag_ms": worst["lagMs"] if worst else None,
            "running_ms": worst["runningMs"] if worst else None,
            "cpu_wait_ms": worst["cpuWaitMs"] if worst else None,
            "lags_over_100ms": sum(1 for entry in lags if entry["lagMs"] >= 100),
            "max_lag_excl_cpu_wait_ms": max(
                (max(0, entry["lagMs"] - (entry["cpuWaitMs"] or 0)) for entry in lags), default=None
            ),
        }


async def measure(database: dict[str, Any], entities: list[dict[str, Any]]) -> dict[str, Any]:
    provider = Provider()
    found: list[Any] = []
    lags = Lags()

    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            processing.add_entity_provider(provider)
            found.append(processing)

        env.register_init(init)

    def logger(config: core.RootConfig) -> Any:
        return create_root_logger(config, write=lags.lines.append, env={})

    features = [
        catalog_plugin(),
        create_backend_module(plugin_id="catalog", module_id="lag-bench", register=register),
        create_service_factory(service=core.root_logger, factory=logger),
    ]
    config = {
        "backend": {
            "database": database,
            "logging": {"format": "json", "level": "warn"},
            "eventLoopLag": {"warnThreshold": "20ms", "warnInterval": 0},
        },
        "catalog": {"processingInterval": {"hours": 24}},
    }
    async with start_test_backend(features=features, config=config):
        gc.freeze()  # as `backstage-py start` does once the backend has started
        connection = provider.connection
        assert connection is not None
        processing = found[0].catalog.processing
        everything = FullMutation([DeferredEntity(entity, LOCATION) for entity in entities])
        half = FullMutation([DeferredEntity(entity, LOCATION) for entity in entities[::2]])

        async def replace() -> None:
            await connection.apply_mutation(half)
            await processing.wait_until_idle()

        return {
            "apply": await lags.phase(lambda: connection.apply_mutation(everything)),
            "process": await lags.phase(processing.wait_until_idle),
            "reapply": await lags.phase(lambda: connection.apply_mutation(everything)),
            "replace": await lags.phase(replace),
        }


async def main(options: argparse.Namespace) -> None:
    url = os.environ.get("BACKSTAGE_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit("set BACKSTAGE_TEST_POSTGRES_URL to a Postgres that may create databases")
    parts = urlsplit(url)
    connection: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
    }
    if parts.password:
        connection["password"] = parts.password
    entities = generated_entities(options.entities, options.seed)
    prefix = f"bench_{uuid.uuid4().hex[:10]}_"
    database = {"client": "pg", "connection": connection, "prefix": prefix}
    try:
        figures = await measure(database, entities)
    finally:
        await drop(connection, prefix)
    print(json.dumps({"entities": len(entities), **figures}, separators=(",", ":")))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    try:
        import uvloop  # the event loop `backstage-py start` runs on
    except ImportError:
        asyncio.run(main(options))
    else:
        uvloop.run(main(options))
