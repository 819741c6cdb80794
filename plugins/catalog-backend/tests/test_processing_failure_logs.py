"""A processing batch that fails logs once: how many of its entities failed, a few of their
refs and the first error, not one stack trace per entity."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_plugin_api import (
    core_services,
    create_backend_module,
    create_service_factory,
)
from backstage_backend_test_utils import (
    postgres_database_config,
    start_test_backend,
    tcp_fault_proxy,
)
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import refresh_state
from backstage_plugin_catalog_node import CatalogProcessing, CatalogProcessorEmit, LocationSpec

from ._support import Probe, probe_module

COMPONENTS = 20


def components(count: int) -> str:
    return "---\n".join(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: svc-{n}}}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
        for n in range(count)
    )


def logger_factory(lines: list[bytes]) -> Any:
    def root_logger(config: core_services.RootConfig) -> Any:
        return create_root_logger(config, write=lines.append, env={})

    return create_service_factory(service=core_services.root_logger, factory=root_logger)


def entries(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def failed_batches(lines: list[bytes]) -> list[dict[str, Any]]:
    return [e for e in entries(lines) if e["message"].endswith("entities failed")]


def failed_counts(lines: list[bytes]) -> list[int]:
    return [int(batch["message"].split()[1]) for batch in failed_batches(lines)]


async def wait_for(predicate: Any) -> None:
    """Until `predicate()` holds; the bound only proves that it does not hang."""
    for _ in range(3000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_a_database_cut_mid_batch_logs_the_batch_once(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(components(COMPONENTS))
    lines: list[bytes] = []
    async with (
        postgres_database_config("faillog") as database,
        tcp_fault_proxy(database["connection"]["host"], database["connection"]["port"]) as proxy,
    ):
        cut = asyncio.Event()

        class CutTheDatabase:
            """The database goes away while the first batch of components is processed,
            so that none of their results can be written."""

            name = "cut"

            async def post_process_entity(
                self, entity: dict[str, Any], location: LocationSpec, emit: CatalogProcessorEmit
            ) -> Mapping[str, Any]:
                if entity["kind"] == "Component" and not cut.is_set():
                    cut.set()
                    await proxy.refuse()
                return entity

        def register(env: Any) -> None:
            async def init(processing: CatalogProcessing) -> None:
                processing.add_processor(CutTheDatabase())

            env.register_init(init)

        module = create_backend_module(plugin_id="catalog", module_id="cut", register=register)
        through_proxy = {**database["connection"], "host": "127.0.0.1", "port": proxy.port}
        config = {
            "backend": {
                "database": {**database, "connection": through_proxy},
                "logging": {"format": "json", "level": "info"},
            },
            "catalog": {"locations": [{"type": "file", "target": str(path)}]},
        }
        probe = Probe()
        async with start_test_backend(
            features=[logger_factory(lines), catalog_plugin(), module, probe_module(probe)],
            config=config,
        ):
            await wait_for(lambda: failed_batches(lines))
            await proxy.restore()
            # the entities stay due, and are written once the database is back
            async with probe.catalog.processing.transaction() as connection:
                due = (
                    await connection.execute(
                        sa.select(sa.func.count()).where(
                            refresh_state.c.entity_ref.like("component:%")
                        )
                    )
                ).scalar_one()
            assert due == COMPONENTS
    [batch] = failed_batches(lines)
    assert batch["level"] == "error"
    assert batch["message"] == f"Writing {COMPONENTS} of {COMPONENTS} entities failed"
    assert batch["plugin"] == "catalog"
    shown = batch["entityRefs"]
    assert shown.endswith(f" and {COMPONENTS - 5} more")
    assert shown.count("component:default/svc-") == 5
    assert "stack" in batch["error"]
    # nothing logged per entity
    assert not [e for e in entries(lines) if "component:default/svc-" in e["message"]]


async def test_entities_that_fail_to_process_are_logged_once_per_batch(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(components(COMPONENTS))
    lines: list[bytes] = []
    async with postgres_database_config("faillog") as database:
        config = {
            "backend": {"database": database, "logging": {"format": "json", "level": "info"}},
            "catalog": {"locations": [{"type": "file", "target": str(path)}]},
        }
        probe = Probe()
        async with start_test_backend(
            features=[logger_factory(lines), catalog_plugin(), probe_module(probe)],
            config=config,
        ):
            await probe.idle()
            processing = probe.catalog.processing
            async with processing.transaction() as connection:
                # rows no processor can read: processing them fails, not just records errors
                await connection.execute(
                    sa.update(refresh_state)
                    .where(refresh_state.c.entity_ref.like("component:%"))
                    .values(unprocessed_entity="{not json", next_update_at=sa.func.now())
                )
            await processing.process_batch()
            await wait_for(lambda: sum(failed_counts(lines)) == COMPONENTS)
    # one line per batch (the loop may claim some of them in a batch of its own)
    batches = failed_batches(lines)
    assert len(batches) <= 2
    if len(batches) == 1:
        [batch] = batches
        assert batch["message"] == f"Processing {COMPONENTS} of {COMPONENTS} entities failed"
        assert batch["entityRefs"].endswith(f" and {COMPONENTS - 5} more")
    assert all(batch["error"]["name"] == "DecodeError" for batch in batches)
    assert not [e for e in entries(lines) if "component:default/svc-" in e["message"]]
