"""`GET /query` with input no engine can take, on the Postgres engine over real HTTP: a 400
in Backstage's error body, never a 500; and a database that cannot serve is a 503."""

from __future__ import annotations

from typing import Any

from backstage_backend_test_utils import tcp_fault_proxy

from .list_collator import ListCollator, doc, started_search

REFUSED = [
    ("term=pet%00", "must not contain NUL"),
    ("filters%5Bkind%5D=API%00", "must not contain NUL"),
    ("filters%5Bki%00nd%5D=API", "must not contain NUL"),
    ("filters%5Bkind%5D%5B0%5D=API&filters%5Bkind%5D%5B1%5D=%00", "must not contain NUL"),
    ("types%5B0%5D=software-catalog%00", "must not contain NUL"),
    ("pageCursor=MA%3D%3D%00", "must not contain NUL"),
    ("term=%FF", "must be valid UTF-8"),
    ("filters%5Bkind%5D=%C3", "must be valid UTF-8"),
    ("filters%5B%E0%80%5D=API", "must be valid UTF-8"),
]


async def test_nul_and_invalid_utf8_are_refused_with_a_400(
    postgres_database: dict[str, Any],
) -> None:
    config = {"backend": {"database": postgres_database}, "search": {"engine": "postgres"}}
    collator = ListCollator("software-catalog", [doc("petstore", "The petstore API", kind="API")])
    async with started_search(collator, config=config) as search:
        await search.reindex("software-catalog")
        for query, message in REFUSED:
            response = await search.test.client.get(f"/api/search/query?{query}")
            assert response.status_code == 400, (query, response.text)
            body = response.json()
            assert body["error"]["name"] == "InputError", body
            assert message in body["error"]["message"], (query, body)
            assert body["request"]["method"] == "GET"
            assert body["response"] == {"statusCode": 400}
        found = await search.test.client.get("/api/search/query?filters%5Bkind%5D=API&term=pet")
        assert found.status_code == 200
        assert [r["document"]["title"] for r in found.json()["results"]] == ["petstore"]


async def test_a_database_that_cannot_serve_is_a_503_not_an_engine_failure(
    postgres_database: dict[str, Any],
) -> None:
    connection = postgres_database["connection"]
    async with tcp_fault_proxy(connection["host"], connection["port"]) as proxy:
        database = {**postgres_database, "connection": {**connection, "port": proxy.port}}
        config = {"backend": {"database": database}, "search": {"engine": "postgres"}}
        collator = ListCollator("software-catalog", [doc("petstore", "The petstore API")])
        async with started_search(collator, config=config) as search:
            await search.reindex("software-catalog")
            await proxy.refuse()
            response = await search.test.client.get("/api/search/query?term=pet")
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["name"] == "ServiceUnavailableError"
            assert "cause" not in error
            await proxy.restore()
            for _ in range(50):  # a pooled connection the proxy cut may be handed out once
                response = await search.test.client.get("/api/search/query?term=pet")
                if response.status_code == 200:
                    break
            assert [r["document"]["title"] for r in response.json()["results"]] == ["petstore"]
