"""The processing loop: conflicts and take-overs, orphans, unchanged results, shutdown,
and two replicas sharing one Postgres database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import refresh_state, refresh_state_references
from backstage_plugin_catalog_backend.processing import ProcessingLoop, _loop

from ._support import Probe, probe_module


def component(name: str, owner: str = "team-a") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}}}\n"
        f"spec: {{type: service, lifecycle: production, owner: {owner}}}\n"
    )


def locations_config(
    database_config: dict[str, Any], *files: Path, **catalog: Any
) -> dict[str, Any]:
    return {
        "backend": {"database": database_config},
        "catalog": {
            "locations": [{"type": "file", "target": str(path)} for path in files],
            **catalog,
        },
    }


async def by_name(test: Any) -> dict[str, dict[str, Any]]:
    response = await test.client.get("/api/catalog/entities")
    assert response.status_code == 200
    return {e["metadata"]["name"]: e for e in response.json()}


async def refresh(test: Any, ref: str) -> None:
    response = await test.client.post("/api/catalog/refresh", json={"entityRef": ref})
    assert response.status_code == 200


def location_ref(entities: dict[str, dict[str, Any]], path: Path) -> str:
    return "location:default/" + location_of(entities, path)["metadata"]["name"]


def location_of(entities: dict[str, dict[str, Any]], path: Path) -> dict[str, Any]:
    [found] = [
        e
        for e in entities.values()
        if e["kind"] == "Location" and e["spec"].get("target") == str(path)
    ]
    return found


async def test_first_location_keeps_a_ref_and_a_moved_entity_does_not_stick(
    database_config: dict[str, Any], tmp_path: Path
) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(component("shared", owner="team-first"))
    second.write_text(component("other"))
    probe = Probe()
    config = locations_config(database_config, first, second)
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        # the second location starts to emit the same ref: the first keeps it
        second.write_text(component("other") + "---\n" + component("shared", owner="team-second"))
        await refresh(test, location_ref(await by_name(test), second))
        await probe.idle()
        entities = await by_name(test)
        assert entities["shared"]["spec"]["owner"] == "team-first"
        [item] = location_of(entities, second)["status"]["items"]
        assert item["message"].startswith(
            "ConflictError: Detected conflicting entityRef component:default/shared "
            f"already referenced by file:{first} and now also file:{second}"
        )

        # the first location stops emitting it: the second takes it over
        first.write_text(component("renamed", owner="team-first"))
        await refresh(test, location_ref(entities, first))
        await probe.idle()
        await refresh(test, location_ref(entities, second))
        await probe.idle()
        entities = await by_name(test)
    assert entities["shared"]["spec"]["owner"] == "team-second"
    assert "status" not in location_of(entities, second)
    assert "renamed" in entities


async def test_moving_an_entity_within_one_origin_takes_it_over(
    database_config: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "root.yaml"
    root.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: root}\n"
        "spec: {targets: [./a.yaml, ./b.yaml]}\n"
    )
    (tmp_path / "a.yaml").write_text(component("mover", owner="team-a"))
    (tmp_path / "b.yaml").write_text(component("stays"))
    probe = Probe()
    config = locations_config(database_config, root)
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        uid = (await by_name(test))["mover"]["metadata"]["uid"]
        # moved from a.yaml to b.yaml in one change, b.yaml read first
        (tmp_path / "b.yaml").write_text(
            component("stays") + "---\n" + component("mover", "team-b")
        )
        await refresh(test, "location:default/root")
        await probe.idle()
        (tmp_path / "a.yaml").write_text("")
        await refresh(test, "location:default/root")
        await probe.idle()
        entities = await by_name(test)
    mover = entities["mover"]
    assert mover["spec"]["owner"] == "team-b"
    assert mover["metadata"]["annotations"]["backstage.io/managed-by-location"] == (
        f"file:{tmp_path / 'b.yaml'}"
    )
    assert mover["metadata"]["uid"] == uid
    assert not any(e.get("status") for e in entities.values())


@pytest.mark.parametrize("strategy", ["delete", "keep"])
async def test_orphan_strategy(
    database_config: dict[str, Any], tmp_path: Path, strategy: str
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(component("one") + "---\n" + component("two"))
    probe = Probe()
    config = locations_config(database_config, path, orphanStrategy=strategy)
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        path.write_text(component("one"))
        await refresh(test, location_ref(await by_name(test), path))
        await probe.idle()
        entities = await by_name(test)
    if strategy == "delete":
        assert "two" not in entities
    else:
        assert entities["two"]["metadata"]["annotations"]["backstage.io/orphan"] == "true"
    assert "backstage.io/orphan" not in entities["one"]["metadata"]["annotations"]


async def test_unchanged_results_are_not_rewritten_and_shutdown_leaves_no_task(
    database_config: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(component("one"))
    probe = Probe()
    config = locations_config(database_config, path, processingInterval={"milliseconds": 50})
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        before = (await by_name(test))["one"]
        async with probe.catalog.processing.transaction() as connection:
            hashes = dict(
                (
                    await connection.execute(
                        sa.select(refresh_state.c.entity_ref, refresh_state.c.result_hash)
                    )
                ).all()
            )
        for _ in range(3):
            await refresh(test, "component:default/one")
            await probe.idle()
        after = (await by_name(test))["one"]
        assert after["metadata"]["etag"] == before["metadata"]["etag"]
        async with probe.catalog.processing.transaction() as connection:
            again = dict(
                (
                    await connection.execute(
                        sa.select(refresh_state.c.entity_ref, refresh_state.c.result_hash)
                    )
                ).all()
            )
        assert again == hashes
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert "catalog-processing" not in names


async def test_two_replicas_on_one_postgres(
    postgres_config: dict[str, Any], tmp_path: Path
) -> None:
    database_config = postgres_config
    files = []
    for index in range(4):
        path = tmp_path / f"c{index}.yaml"
        path.write_text("---\n".join(component(f"e{index}-{n}") for n in range(25)))
        files.append(path)
    config = locations_config(database_config, *files, processingInterval={"milliseconds": 200})
    probes = [Probe(), Probe()]
    async with (
        start_test_backend(
            features=[catalog_plugin(), probe_module(probes[0])], config=config
        ) as a,
        start_test_backend(
            features=[catalog_plugin(), probe_module(probes[1])], config=config
        ) as b,
    ):
        await asyncio.gather(probes[0].idle(), probes[1].idle())
        # an update seen through either replica
        files[0].write_text("---\n".join(component(f"e0-{n}", owner="team-b") for n in range(25)))
        await refresh(b, location_ref(await by_name(a), files[0]))
        await asyncio.gather(probes[0].idle(), probes[1].idle())
        seen_a, seen_b = await by_name(a), await by_name(b)
        async with probes[0].catalog.processing.transaction() as connection:
            refs = (await connection.execute(sa.select(refresh_state.c.entity_ref))).scalars().all()
            references = (
                await connection.execute(
                    sa.select(
                        refresh_state_references.c.source_key,
                        refresh_state_references.c.source_entity_ref,
                        refresh_state_references.c.target_entity_ref,
                    )
                )
            ).all()
    assert seen_a == seen_b
    components = [e for e in seen_a.values() if e["kind"] == "Component"]
    assert len(components) == 100
    assert len(refs) == len(set(refs)) == 104
    assert len(references) == len(set(references)) == 104
    assert {e["spec"]["owner"] for e in components if e["metadata"]["name"].startswith("e0-")} == {
        "team-b"
    }


async def test_statistics_are_refreshed_after_a_large_ingestion(
    postgres_config: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("---\n".join(component(f"svc-{n}") for n in range(1_200)))
    probe = Probe()
    config = locations_config(postgres_config, path)
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        database = await test.backend.get_service(core.database, "catalog")
        engine = await database.get_engine()
        analyzed = vacuumed = None
        for _ in range(200):
            async with engine.connect() as connection:
                analyzed, vacuumed = (
                    await connection.execute(
                        sa.text(
                            "SELECT last_analyze, last_vacuum FROM pg_stat_user_tables"
                            " WHERE relname = 'search'"
                        )
                    )
                ).one()
            if analyzed is not None and vacuumed is not None:
                break
            await asyncio.sleep(0.05)
        response = await test.client.get(
            "/api/catalog/entities/by-query", params={"filter": "kind=component", "limit": "0"}
        )
    assert response.json()["totalItems"] == 1_200
    assert analyzed is not None, "the search table's statistics were not refreshed"
    # vacuumed too, so that walks of its index need not visit the table
    assert vacuumed is not None


async def test_a_batch_of_locations_is_not_processed_far_ahead_of_its_writes(
    postgres_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processed entities wait in memory until written: with slow writes, a batch of 40
    locations of 100 entities each never holds more than two writes' worth of children (the
    one being written and the one waiting), each at most a full write plus what the
    processing under way when it filled emits."""
    monkeypatch.setattr(_loop, "_CHILDREN_PER_WRITE", 200)
    processed = written = most_waiting = 0
    process, write = ProcessingLoop._process, ProcessingLoop._write

    async def counted_process(self: Any, item: Any, *rest: Any) -> Any:
        nonlocal processed, most_waiting
        result = await process(self, item, *rest)
        if result is not None:
            processed += len(result.outcome.children)
            most_waiting = max(most_waiting, processed - written)
        return result

    async def slow_write(self: Any, results: Any) -> None:
        nonlocal written
        for _ in range(50):  # a slow write: other work gets 50 turns of the loop meanwhile
            await asyncio.sleep(0)
        await write(self, results)
        written += sum(len(result.outcome.children) for result in results)

    monkeypatch.setattr(ProcessingLoop, "_process", counted_process)
    monkeypatch.setattr(ProcessingLoop, "_write", slow_write)
    files = []
    for index in range(40):
        path = tmp_path / f"catalog-{index}.yaml"
        path.write_text("---\n".join(component(f"c{index}-{n}") for n in range(100)))
        files.append(path)
    config = locations_config(postgres_config, *files)
    probe = Probe()
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        assert len(await by_name(test)) == 40 * 100 + 40
    assert written == processed == 4000
    # each write: 200, and ten locations under way (the default concurrency) of 100 each
    assert most_waiting <= 2 * (200 + 10 * 100)


async def test_a_wake_up_as_the_loop_stops_does_not_keep_it_running(
    database_config: dict[str, Any],
) -> None:
    # On Python 3.11 `asyncio.wait_for` swallowed a cancellation that came as the wake-up
    # it waited for did: the loop ran on, and held the unit's shutdown until its deadline.
    probe = Probe()
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=locations_config(database_config)
    ):
        await probe.idle()
        processing = probe.catalog.processing
        for turns in range(8):  # the cancellation lands in each turn of the wake-up's way
            await processing.stop()
            await processing.start()
            await asyncio.sleep(0.05)  # every loop waits for a wake-up
            processing.wake()
            for _ in range(turns):
                await asyncio.sleep(0)
            async with asyncio.timeout(5):
                await processing.stop()
            names = {task.get_name() for task in asyncio.all_tasks()}
            assert "catalog-processing" not in names, turns
