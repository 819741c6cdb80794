"""`GET /api/search/query` as Backstage's frontend and `SearchClient` use it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from .list_collator import ListCollator, doc, started_search

DOCS = ListCollator(
    "software-catalog",
    [
        doc(
            "petstore-api",
            "The petstore REST API",
            kind="API",
            lifecycle="production",
            authorization={"resourceRef": "api:default/petstore-api"},
        ),
        doc("pet-food", "Food for pets", kind="Component", lifecycle="experimental"),
        {"title": "evil", "text": "petstore clone", "location": "javascript:alert(1)"},
    ],
)
TECHDOCS = ListCollator("techdocs", [doc("pet-guide", "How to feed a pet")])


async def test_the_frontend_query_gets_backstages_result_shape() -> None:
    async with started_search(DOCS, TECHDOCS) as search:
        await search.reindex("software-catalog")
        # exactly what SearchClient sends (qs.stringify with indexed brackets)
        response = await search.query(
            "term=petstore&types%5B0%5D=software-catalog&filters%5Bkind%5D=API"
            "&filters%5Blifecycle%5D%5B0%5D=production&pageLimit=10&pageCursor=MA%3D%3D"
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"results", "numberOfResults"}
    [result] = body["results"]
    assert set(result) == {"type", "document", "rank", "highlight"}
    assert result["type"] == "software-catalog"
    assert result["rank"] == 1
    # authorization is for the engine's eyes only
    assert result["document"] == {
        "title": "petstore-api",
        "text": "The petstore REST API",
        "location": "/docs/petstore-api",
        "kind": "API",
        "lifecycle": "production",
    }
    highlight = result["highlight"]
    assert set(highlight) == {"preTag", "postTag", "fields"}
    pre, post = highlight["preTag"], highlight["postTag"]
    assert highlight["fields"]["title"] == f"{pre}petstore{post}-api"
    assert highlight["fields"]["text"] == f"The {pre}petstore{post} REST API"


@pytest.mark.parametrize(
    "types",
    [
        "types%5B0%5D=software-catalog&types%5B1%5D=techdocs",
        "types%5B%5D=software-catalog&types%5B%5D=techdocs",
        "types=software-catalog&types=techdocs",
        "",
    ],
)
async def test_every_way_of_writing_types_is_understood(types: str) -> None:
    async with started_search(DOCS, TECHDOCS) as search:
        await search.reindex("software-catalog")
        await search.reindex("techdocs")
        body = (await search.query(f"term=pet&{types}")).json()
    assert {result["type"] for result in body["results"]} == {"software-catalog", "techdocs"}


async def test_one_type_alone_and_results_with_unsafe_locations_dropped() -> None:
    async with started_search(DOCS, TECHDOCS) as search:
        await search.reindex("software-catalog")
        await search.reindex("techdocs")
        only = (await search.query("term=pet&types=techdocs")).json()
        clones = (await search.query("term=clone")).json()
    assert [result["document"]["title"] for result in only["results"]] == ["pet-guide"]
    assert clones["results"] == []


async def test_paging_cursors_and_count_queries_with_page_limit_zero() -> None:
    many = ListCollator("software-catalog", [doc(f"service-{n}", "a service") for n in range(30)])
    async with started_search(many) as search:
        await search.reindex("software-catalog")
        first = (await search.query("term=service&pageLimit=10")).json()
        third = (await search.query("term=service&pageLimit=10&pageCursor=Mg%3D%3D")).json()
        count = (
            await search.query("term=service&types%5B0%5D=software-catalog&pageLimit=0")
        ).json()
    assert first["numberOfResults"] == 30
    assert first["nextPageCursor"] == "MQ=="
    assert "previousPageCursor" not in first
    assert [result["rank"] for result in third["results"]] == list(range(21, 31))
    assert third["previousPageCursor"] == "MQ=="
    assert "nextPageCursor" not in third
    assert count["numberOfResults"] == 30
    assert len(count["results"]) == 25


async def test_a_type_not_indexed_yet_answers_empty_with_a_flag() -> None:
    async with started_search(DOCS, TECHDOCS) as search:
        before = await search.query("term=pet&types=software-catalog")
        await search.reindex("software-catalog")
        after = (await search.query("term=pet")).json()
    assert before.status_code == 200
    assert before.json() == {
        "results": [],
        "numberOfResults": 0,
        "unindexedTypes": ["software-catalog"],
    }
    assert after["unindexedTypes"] == ["techdocs"]
    assert after["results"]


def error_of(response: Any) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"]["name"] == "InputError"
    assert body["response"] == {"statusCode": 400}
    assert body["request"]["method"] == "GET"
    assert body["request"]["url"].startswith("/query")
    message: str = body["error"]["message"]
    return message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("types=nope", "Unknown type 'nope'"),
        ("types%5B0%5D=", "Unknown type ''"),
        ("pageLimit=101", 'The page limit \\"101\\" is greater than \\"100\\"'),
        ("pageLimit=99999999999999999999999", "is greater than"),
        ("pageLimit=-1", "is negative"),
        ("pageLimit=abc", "request/query/pageLimit must be integer"),
        ("pageLimit=2.5", "request/query/pageLimit must be integer"),
        ("pageCursor=not-a-cursor", "Invalid page cursor"),
        ("pageCursor=LTE%3D", "Invalid page cursor"),
        ("pageCursor=MTAwMDAwMDAwMDAwMDAwMDAwMDAw", "Invalid page cursor"),
        ("term=" + "x" * 101, 'The term length \\"101\\" is greater than \\"100\\"'),
        ("term=" + quote("😀" * 51), 'The term length \\"102\\"'),
        ("term=a&term=b", "request/query/term must be string"),
        ("filters=kind", "request/query/filters must be object"),
        ("filters%5Bkind%5D%5Bdeep%5D=x", "The filter 'kind' must be a value or a list"),
        ("types%5Ba%5D=software-catalog", "request/query/types must be array"),
    ],
)
async def test_bad_queries_get_400_with_backstages_error_body(query: str, message: str) -> None:
    async with started_search(DOCS) as search:
        await search.reindex("software-catalog")
        response = await search.query(query)
    assert message in error_of(response)


async def test_limits_come_from_config() -> None:
    config = {"search": {"maxPageLimit": 5, "maxTermLength": 3}}
    async with started_search(DOCS, config=config) as search:
        assert "greater than" in error_of(await search.query("pageLimit=6"))
        assert "greater than" in error_of(await search.query("term=abcd"))
        assert (await search.query("term=abc&pageLimit=5")).status_code == 200
