"""The single-entity and by-refs reads on Postgres, whichever way their statements run:
straight on the driver, traced, in a schema of a shared pool; through lost connections and
failed statements."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from backstage_backend_defaults.telemetry import TelemetryOptions, telemetry_service_factory
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .sample_catalog import Catalog, started_catalog

PETSTORE = "/entities/by-name/component/default/petstore"
REFS = {
    "entityRefs": [
        "component:default/petstore",
        "component:default/nothing",
        "API:default/search-api",
    ]
}


async def _answers_everything(catalog: Catalog) -> None:
    stored = {ref: text for ref, _, text in await catalog.stored()}
    response = await catalog.get(PETSTORE)
    assert response.status_code == 200
    assert response.text == stored["component:default/petstore"]
    uid = response.json()["metadata"]["uid"]
    assert (await catalog.get(f"/entities/by-uid/{uid}")).text == response.text
    items = (await catalog.post("/entities/by-refs", REFS)).json()["items"]
    assert [item and item["metadata"]["name"] for item in items] == ["petstore", None, "search-api"]


async def _admin(connection: dict[str, Any]) -> Any:
    return await asyncpg.connect(database="postgres", **connection)


async def test_reads_on_connections_the_server_closed_get_new_ones(
    postgres_config: dict[str, Any],
) -> None:
    async with started_catalog(postgres_config) as catalog:
        # every connection of the pool has been used
        many = await asyncio.gather(*(catalog.get(PETSTORE) for _ in range(12)))
        assert {response.status_code for response in many} == {200}
        admin = await _admin(postgres_config["connection"])
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE datname = $1",
                f"{postgres_config['prefix']}catalog",
            )
        finally:
            await admin.close()
        assert killed >= 1
        many = await asyncio.gather(*(catalog.get(PETSTORE) for _ in range(12)))
        assert {response.status_code for response in many} == {200}
        await _answers_everything(catalog)


async def test_a_failed_read_is_a_database_error_and_its_connection_is_dropped(
    postgres_config: dict[str, Any],
) -> None:
    # a kept entity is served without its table: the entity cache is off here
    uncached = {"catalog": {"cache": {"entities": {"enabled": False}}}}
    async with started_catalog(postgres_config, config=uncached) as catalog:
        assert (await catalog.get(PETSTORE)).status_code == 200
        database = f"{postgres_config['prefix']}catalog"
        admin = await asyncpg.connect(database=database, **postgres_config["connection"])
        try:
            await admin.execute("ALTER TABLE final_entities RENAME TO final_entities_away")
            failed = await catalog.get(PETSTORE)
            refs_failed = await catalog.post("/entities/by-refs", REFS)
            await admin.execute("ALTER TABLE final_entities_away RENAME TO final_entities")
        finally:
            await admin.close()
        for response, url in ((failed, PETSTORE), (refs_failed, "/entities/by-refs")):
            assert response.status_code == 500
            body = response.json()
            # as every database error: no SQL or driver message reaches the client
            assert body["error"]["name"] == "Error"
            assert body["error"]["message"].startswith("An internal error occurred logId=")
            assert body["request"]["url"] == url
            assert body["response"] == {"statusCode": 500}
        await _answers_everything(catalog)


async def test_traced_reads_keep_their_statement_spans(postgres_config: dict[str, Any]) -> None:
    spans = InMemorySpanExporter()
    telemetry = telemetry_service_factory(
        TelemetryOptions(span_exporter=spans, instrument_httpx=False)
    )
    async with started_catalog(postgres_config, features=[telemetry]) as catalog:
        await _answers_everything(catalog)
    finished = spans.get_finished_spans()
    [request] = [
        span for span in finished if span.name.startswith("GET") and "by-name" in span.name
    ]
    assert request.context is not None
    statements = [
        span
        for span in finished
        if span.parent is not None and span.parent.span_id == request.context.span_id
    ]
    [select] = [span for span in statements if span.name.startswith("SELECT")]
    assert select.attributes is not None
    assert "FROM final_entities" in str(select.attributes["db.query.text"])
    assert select.attributes["backstage.plugin_id"] == "catalog"


async def test_reads_in_a_schema_of_a_shared_pool(postgres_config: dict[str, Any]) -> None:
    connection = postgres_config["connection"]
    shared = f"{postgres_config['prefix']}shared"
    admin = await _admin(connection)
    try:
        await admin.execute(f'CREATE DATABASE "{shared}"')
    finally:
        await admin.close()
    database = {
        "client": "pg",
        "connection": {**connection, "database": shared},
        "pluginDivisionMode": "schema",
    }
    async with started_catalog(database) as catalog:
        # more requests at once than the pool has connections: new ones are made, and each
        # is set to the catalog's schema before it runs a statement
        many = await asyncio.gather(*(catalog.get(PETSTORE) for _ in range(15)))
        assert {response.status_code for response in many} == {200}
        await _answers_everything(catalog)


async def test_postgres_plans_each_read_for_its_values_even_after_a_rollback(
    postgres_config: dict[str, Any],
) -> None:
    async with started_catalog(postgres_config) as catalog:
        engine = catalog.engine
        await engine.dispose()  # connections made from here on
        async with engine.connect() as session:  # ends with a rollback
            await session.exec_driver_sql("SELECT 1")
        reads = engine.execution_options(isolation_level="AUTOCOMMIT")

        async def plan_cache_mode() -> Any:
            async with reads.connect() as session:
                mode = (await session.exec_driver_sql("SHOW plan_cache_mode")).scalar()
                await asyncio.sleep(0.05)  # hold it: the others take other connections
                return mode

        modes = await asyncio.gather(*(plan_cache_mode() for _ in range(3)))
        assert modes == ["force_custom_plan"] * 3
