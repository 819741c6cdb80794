"""A real catalog backend on its own port, seeded with entities as if processed."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend.stitching import stitch_entities


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def entity(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "description": f"The {name}"},
        "spec": spec,
    }


async def seed(test: TestBackend, entities: Sequence[Mapping[str, Any]]) -> None:
    """Store `entities` as a provider named `test` would have them processed, and stitch."""
    database = await test.get_service(core.database, "catalog")
    engine = await database.get_engine()
    now = datetime.now(UTC)
    refs = []
    async with engine.begin() as connection:
        for given in entities:
            metadata = given["metadata"]
            ref = f"{given['kind']}:{metadata.get('namespace', 'default')}/{metadata['name']}"
            text = msgspec.json.encode(
                {**given, "metadata": {**metadata, "uid": str(uuid.uuid4())}}
            ).decode()
            await connection.execute(
                sa.text(
                    "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity,"
                    " processed_entity, errors, next_update_at, last_discovery_at)"
                    " VALUES (:id, :ref, :text, :text, '', :now, :now)"
                ),
                {"id": str(uuid.uuid4()), "ref": ref.lower(), "text": text, "now": now},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO refresh_state_references (source_key, target_entity_ref)"
                    " VALUES ('test', :ref)"
                ),
                {"ref": ref.lower()},
            )
            refs.append(ref.lower())
        await stitch_entities(connection, refs)


@asynccontextmanager
async def started_catalog(
    entities: Sequence[Mapping[str, Any]], *, port: int | None = None
) -> AsyncIterator[TestBackend]:
    """The catalog plugin alone in a backend (a unit of its own), on `port` if given."""
    config = {}
    if port is not None:
        config = {
            "backend": {
                "baseUrl": f"http://127.0.0.1:{port}",
                "listen": {"host": "127.0.0.1", "port": port},
            }
        }
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        await seed(test, entities)
        yield test
