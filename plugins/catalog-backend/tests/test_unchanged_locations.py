"""A `url` Location entity whose file answers "not modified" is not processed again: it
keeps its children, relations and result, and nothing is written. A changed definition, a
failed previous pass or a changed file is processed in full."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_backend_test_utils import start_test_backend
from backstage_backend_test_utils.scm import (
    FakeRepository,
    FakeRequest,
    FakeResponse,
    LoopbackGithub,
    start_loopback_github_api,
)
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import refresh_state, stitch_queue
from backstage_plugin_catalog_backend.processing import UrlReaderProcessor
from backstage_plugin_catalog_backend.processing._permit import Permit

from ._support import Probe, probe_module


def component(name: str, description: str = "first") -> bytes:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n  description: {description}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    ).encode()


class Scene:
    """A catalog reading files of one private repository of a loopback GitHub."""

    def __init__(self, test: Any, probe: Probe, github: LoopbackGithub) -> None:
        self.test = test
        self.probe = probe
        self.github = github
        self.failing = False
        github.handlers.append(self._fail)

    async def _fail(self, request: FakeRequest) -> FakeResponse | None:
        if self.failing and request.raw_path.endswith(".yaml"):
            return FakeResponse.json({"message": "Server Error"}, 500)
        return None

    def url(self, path: str) -> str:
        return self.github.blob_url("acme", "mono", path)

    def reads(self) -> dict[str, int]:
        [reader] = [
            p
            for p in self.probe.catalog.processing.orchestrator._readers
            if isinstance(p, UrlReaderProcessor)
        ]
        return dict(reader.reads)

    async def register(self, path: str) -> str:
        response = await self.test.client.post(
            "/api/catalog/locations", json={"type": "url", "target": self.url(path)}
        )
        assert response.status_code == 201, response.text
        await self.probe.idle()
        return await self._location_ref(path)

    async def _location_ref(self, path: str) -> str:
        response = await self.test.client.get(
            "/api/catalog/entities", params={"filter": "kind=location"}
        )
        for entity in response.json():
            if entity["spec"].get("target") == self.url(path):
                return f"location:default/{entity['metadata']['name']}"
        raise AssertionError(f"no location entity for {path}")

    async def refresh(self, ref: str) -> None:
        response = await self.test.client.post("/api/catalog/refresh", json={"entityRef": ref})
        assert response.status_code == 200, response.text
        await self.probe.idle()

    async def state(self, ref: str) -> dict[str, Any]:
        """The location's stored row, and whether any stitch is queued."""
        async with self.probe.catalog.processing.transaction() as connection:
            row = (
                await connection.execute(
                    sa.select(refresh_state).where(refresh_state.c.entity_ref == ref)
                )
            ).one()
            queued = await connection.scalar(sa.select(sa.func.count()).select_from(stitch_queue))
        return {**row._asdict(), "stitches queued": queued}

    async def component(self, name: str) -> dict[str, Any]:
        response = await self.test.client.get(
            f"/api/catalog/entities/by-name/component/default/{name}"
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def location_errors(self, ref: str) -> list[str]:
        name = ref.split("/", 1)[1]
        response = await self.test.client.get(
            f"/api/catalog/entities/by-name/location/default/{name}"
        )
        items = (response.json().get("status") or {}).get("items") or []
        return [item["error"]["message"] for item in items]


def repository() -> FakeRepository:
    files = {"a.yaml": component("a"), "b.yaml": component("b")}
    return FakeRepository("acme", "mono", {"main": files})


@asynccontextmanager
async def catalog_scene(database: dict[str, Any]) -> AsyncIterator[Scene]:
    probe = Probe()
    async with start_loopback_github_api(LoopbackGithub()) as github:
        github.add_repository(repository())
        config = {
            "backend": {"database": database},
            "integrations": {"github": [github.integration_config()]},
            "catalog": {"processingInterval": {"hours": 1}},
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            yield Scene(test, probe, github)


async def test_a_not_modified_file_skips_processing_and_writes(
    database_config: dict[str, Any],
) -> None:
    async with catalog_scene(database_config) as scene:
        ref = await scene.register("a.yaml")
        before = await scene.state(ref)
        relations_before = (await scene.component("a"))["relations"]
        assert scene.reads() == {"full": 1}
        assert before["result_hash"]

        orchestrator = scene.probe.catalog.processing.orchestrator
        unprocessed = msgspec.json.decode(before["unprocessed_entity"])
        assert await orchestrator.process_claimed(unprocessed, before["result_hash"]) is None
        assert scene.reads() == {"full": 1, "not_modified": 1}

        await scene.refresh(ref)
        after = await scene.state(ref)
        assert scene.reads() == {"full": 1, "not_modified": 2}
        for column in ("result_hash", "processed_entity", "errors"):
            assert after[column] == before[column], column
        assert after["stitches queued"] == 0
        assert (await scene.component("a"))["relations"] == relations_before
        assert (await scene.component("a"))["metadata"]["description"] == "first"


async def test_only_a_location_that_brings_something_new_waits_for_the_concurrency_bound(
    database_config: dict[str, Any],
) -> None:
    async with catalog_scene(database_config) as scene:
        ref = await scene.register("a.yaml")
        state = await scene.state(ref)
        unprocessed = msgspec.json.decode(state["unprocessed_entity"])
        orchestrator = scene.probe.catalog.processing.orchestrator
        full = asyncio.Semaphore(0)  # every place taken

        # unchanged: its reads never take a place
        unchanged = orchestrator.process_claimed(unprocessed, state["result_hash"], Permit(full))
        assert await asyncio.wait_for(unchanged, 5) is None

        scene.github.repositories["acme/mono"].set_file("a.yaml", component("a", "second").decode())
        changed = asyncio.ensure_future(
            orchestrator.process_claimed(unprocessed, state["result_hash"], Permit(full))
        )
        await asyncio.sleep(0.3)
        # the new file was read, and its processing waits for a place
        assert scene.reads() == {"full": 2, "not_modified": 1}
        assert not changed.done()
        full.release()
        processed = await changed
        assert processed is not None
        assert processed[0].children[0].entity["metadata"]["description"] == "second"
        # its place was handed back, and only that one
        await asyncio.wait_for(full.acquire(), 1)
        assert full.locked()


async def test_a_location_with_one_target_changed_keeps_the_entities_of_the_others(
    database_config: dict[str, Any],
) -> None:
    async with catalog_scene(database_config) as scene:
        ref = await scene.register("a.yaml")
        await scene.register("b.yaml")
        unprocessed = msgspec.json.decode((await scene.state(ref))["unprocessed_entity"])
        unprocessed["spec"]["targets"] = [scene.url("b.yaml")]
        orchestrator = scene.probe.catalog.processing.orchestrator
        first = await orchestrator.process_claimed(unprocessed, None)
        assert first is not None
        digest = first[1]
        assert await orchestrator.process_claimed(unprocessed, digest) is None

        scene.github.repositories["acme/mono"].set_file("b.yaml", component("b", "second").decode())
        processed = await orchestrator.process_claimed(unprocessed, digest)
        assert processed is not None
        # a.yaml answered "not modified" to the ETag its last processing read, and its
        # entity is still among the children
        children = {c.ref: c.entity["metadata"]["description"] for c in processed[0].children}
        assert children == {"component:default/a": "first", "component:default/b": "second"}
        assert processed[1] != digest


async def test_a_changed_definition_is_processed_in_full_after_a_not_modified_read(
    database_config: dict[str, Any],
) -> None:
    async with catalog_scene(database_config) as scene:
        ref = await scene.register("a.yaml")
        await scene.register("b.yaml")
        state = await scene.state(ref)
        unprocessed = msgspec.json.decode(state["unprocessed_entity"])
        # the same location pointed at b.yaml, whose ETag another location stored
        unprocessed["spec"]["target"] = scene.url("b.yaml")
        processed = await scene.probe.catalog.processing.orchestrator.process_claimed(
            unprocessed, state["result_hash"]
        )
        assert processed is not None
        outcome, digest = processed
        assert scene.reads() == {"full": 2, "not_modified": 1}
        assert [child.ref for child in outcome.children] == ["component:default/b"]
        assert digest != state["result_hash"]


async def test_a_failed_pass_is_retried_in_full(database_config: dict[str, Any]) -> None:
    async with catalog_scene(database_config) as scene:
        ref = await scene.register("a.yaml")
        good = await scene.state(ref)

        scene.failing = True
        await scene.refresh(ref)
        assert await scene.location_errors(ref)
        assert (await scene.state(ref))["result_hash"] != good["result_hash"]

        scene.failing = False
        await scene.refresh(ref)
        # the file answered 304, yet the location was processed: its errors are gone
        assert scene.reads() == {"full": 1, "not_modified": 1}
        assert await scene.location_errors(ref) == []
        assert (await scene.state(ref))["result_hash"] == good["result_hash"]
        assert (await scene.component("a"))["metadata"]["description"] == "first"


async def test_a_changed_file_is_processed_and_its_children_updated(
    database_config: dict[str, Any],
) -> None:
    async with catalog_scene(database_config) as scene:
        mono = scene.github.repositories["acme/mono"]
        ref = await scene.register("a.yaml")
        await scene.refresh(ref)
        assert scene.reads() == {"full": 1, "not_modified": 1}

        mono.set_file("a.yaml", component("a", "second").decode())
        await scene.refresh(ref)
        assert scene.reads() == {"full": 2, "not_modified": 1}
        assert (await scene.component("a"))["metadata"]["description"] == "second"

        # and the new version is the one an unchanged pass keeps
        before = await scene.state(ref)
        await scene.refresh(ref)
        assert scene.reads() == {"full": 2, "not_modified": 2}
        assert (await scene.state(ref))["result_hash"] == before["result_hash"]
        assert (await scene.component("a"))["metadata"]["description"] == "second"
