"""What a database outage writes to the log while clients keep calling.

A backend with the catalog (200 Components) on the test Postgres, reached through a TCP
fault proxy; `--clients` clients read one entity by name in a loop; after a second the
proxy refuses connections for `--seconds`, then forwards again. Prints the responses by
status and, for the log lines other than the request log: how many, their bytes, how many
carry a stack trace, the longest line, and the most frequent messages.

Run: `uv run python benchmarks/logging/outage.py [--seconds 10] [--clients 16]
[--repeat-interval 10s]` (`--repeat-interval 0s`: every failure logged in full), with
`BACKSTAGE_TEST_POSTGRES_URL` set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_plugin_api import core_services, create_service_factory
from backstage_backend_test_utils import (
    postgres_database_config,
    start_test_backend,
    tcp_fault_proxy,
)
from backstage_plugin_catalog_backend import catalog_plugin


def components(count: int) -> str:
    return "---\n".join(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: svc-{n}}}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
        for n in range(count)
    )


async def run(seconds: float, clients: int, repeat_interval: str) -> None:
    lines: list[bytes] = []

    def root_logger(config: core_services.RootConfig) -> Any:
        return create_root_logger(config, write=lines.append, env={})

    logger = create_service_factory(service=core_services.root_logger, factory=root_logger)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "catalog.yaml"
        path.write_text(components(200))
        async with (
            postgres_database_config("outage") as database,
            tcp_fault_proxy(
                database["connection"]["host"], database["connection"]["port"]
            ) as proxy,
        ):
            through_proxy = {**database["connection"], "host": "127.0.0.1", "port": proxy.port}
            config = {
                "backend": {
                    "database": {**database, "connection": through_proxy},
                    "logging": {
                        "format": "json",
                        "level": "info",
                        "repeatInterval": repeat_interval,
                    },
                },
                "catalog": {
                    "locations": [{"type": "file", "target": str(path)}],
                    "processingInterval": {"seconds": 1},
                },
            }
            async with start_test_backend(features=[logger, catalog_plugin()], config=config) as b:
                await asyncio.sleep(3)  # ingested
                mark = len(lines)
                statuses: Counter[str] = Counter()
                stop = time.monotonic() + seconds + 2

                async def client() -> None:
                    while time.monotonic() < stop:
                        try:
                            response = await b.client.get(
                                "/api/catalog/entities/by-name/component/default/svc-1"
                            )
                            statuses[str(response.status_code)] += 1
                        except Exception as error:  # a client error is a figure too
                            statuses[type(error).__name__] += 1

                async def outage() -> None:
                    await asyncio.sleep(1)
                    await proxy.refuse()
                    await asyncio.sleep(seconds)
                    await proxy.restore()

                await asyncio.gather(outage(), *(client() for _ in range(clients)))
                await asyncio.sleep(1)
                written = lines[mark:]
    entries = [json.loads(line) for line in written]
    other = [
        (entry, line)
        for entry, line in zip(entries, written, strict=True)
        if entry.get("type") != "incomingRequest"
    ]
    stacks = sum(1 for entry, _ in other if "stack" in (entry.get("error") or {}))
    print(f"outage {seconds:g} s, {clients} clients, repeatInterval {repeat_interval}")
    print(f"responses: {dict(statuses)}")
    print(
        f"log lines (request log aside): {len(other)}, {sum(len(line) for _, line in other)} "
        f"bytes, {stacks} with a stack trace, longest line {max(map(len, written), default=0)} "
        "bytes"
    )
    for (level, message), count in Counter(
        (entry["level"], entry["message"][:90]) for entry, _ in other
    ).most_common(6):
        print(f"  {count:6d} {level:5s} {message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--repeat-interval", default="10s")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.clients, args.repeat_interval))


if __name__ == "__main__":
    main()
