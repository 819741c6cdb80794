"""One indexing run of the catalog collator over HTTP: search and catalog as two backends.

Seeds a catalog backend (the catalog plugin on SQLite in memory) with `--entities`
catalog-like entities, starts a search backend on another port whose discovery points at
it, and times the `software-catalog` indexing task: pages of 500 through `GET
/entities/by-query` with a cursor and a field list, documents built, the index swapped in.
Both backends share this process (and its event loop), so the figure includes the catalog's
own work. Prints the time and a JSON line. Target: under 10 s for 10,000 entities.

Run: `uv run python benchmarks/search/through_catalog.py [--entities 10000]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import MockScheduler, TestBackend, start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend.stitching import stitch_entities
from backstage_plugin_search_backend import search_module_catalog_collator, search_plugin
from bench import catalog_entities

TASK = "search_index_software_catalog"


async def seed(catalog: TestBackend, entities: list[dict[str, Any]]) -> None:
    """The entities as a provider would leave them processed, then stitched."""
    engine = await (await catalog.get_service(core.database, "catalog")).get_engine()
    now = datetime.now(UTC)
    refs = []
    async with engine.begin() as connection:
        for entity in entities:
            metadata = {"namespace": "default", **entity["metadata"], "uid": str(uuid.uuid4())}
            ref = f"{entity['kind']}:{metadata['namespace']}/{metadata['name']}".lower()
            text = msgspec.json.encode(
                {"apiVersion": "backstage.io/v1alpha1", **entity, "metadata": metadata}
            ).decode()
            await connection.execute(
                sa.text(
                    "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity,"
                    " processed_entity, errors, next_update_at, last_discovery_at)"
                    " VALUES (:id, :ref, :text, :text, '', :now, :now)"
                ),
                {"id": metadata["uid"], "ref": ref, "text": text, "now": now},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO refresh_state_references (source_key, target_entity_ref)"
                    " VALUES ('bench', :ref)"
                ),
                {"ref": ref},
            )
            refs.append(ref)
        await stitch_entities(connection, refs)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    args = parser.parse_args()
    entities = catalog_entities(args.entities, random.Random(1))
    async with start_test_backend(features=[catalog_plugin()]) as catalog:
        await seed(catalog, entities)
        config = {
            "discovery": {
                "endpoints": [{"target": f"{catalog.base_url}/api/catalog", "plugins": ["catalog"]}]
            }
        }
        features = [search_plugin(), search_module_catalog_collator()]
        async with start_test_backend(features=features, config=config) as search:
            scheduler = await search.get_service(core.scheduler, "search")
            assert isinstance(scheduler, MockScheduler)
            started = time.perf_counter()
            await scheduler.trigger_task(TASK)
            elapsed = time.perf_counter() - started
            error = scheduler.last_error(TASK)
            if error is not None:
                raise error
            answer = (await search.client.get("/api/search/query?term=&pageLimit=0")).json()
    indexed = answer["numberOfResults"]
    print(f"indexed {indexed} of {len(entities)} entities through the catalog in {elapsed:.2f}s")
    print(json.dumps({"entities": len(entities), "indexed": indexed, "seconds": round(elapsed, 2)}))


if __name__ == "__main__":
    asyncio.run(main())
