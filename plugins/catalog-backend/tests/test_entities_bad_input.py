"""Bad requests get Backstage's status, error body and message, and change nothing."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from .sample_catalog import started_catalog


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400
    name: str = "InputError"


def _deep(levels: int) -> dict[str, Any]:
    predicate: dict[str, Any] = {"kind": "component"}
    for _ in range(levels):
        predicate = {"$not": predicate}
    return predicate


_FILTER = (
    "Invalid filter, '=x' is not a valid statement (expected a string on the form a=b or a= or a)"
)
_BY_REFS = (
    "Malformed request body (did you remember to specify an application/json content type?), "
    "Validation error: "
)

CASES = [
    # GET /entities
    Case("GET", "/entities", _FILTER, params={"filter": "kind=a,=x"}),
    Case(
        "GET",
        "/entities",
        'Invalid field "metadata.tags[0]", array type fields are not supported',
        params={"fields": "kind,metadata.tags[0]"},
    ),
    Case(
        "GET",
        "/entities",
        'Invalid order parameter "up:metadata.name", expected "<asc or desc>:<field name>"',
        params={"order": "up:metadata.name"},
    ),
    Case("GET", "/entities", "Invalid limit, must be greater than zero", params={"limit": "0"}),
    Case("GET", "/entities", "request/query/limit must be integer", params={"limit": "ten"}),
    Case("GET", "/entities", "Invalid offset, must be zero or greater", params={"offset": "-1"}),
    Case("GET", "/entities", "Malformed after cursor, could not be parsed", params={"after": "!!"}),
    Case("GET", "/entities", "Invalid after, must not be empty", params={"after": ""}),
    Case(
        "GET",
        "/entities",
        "Malformed after cursor, offset was not a number",
        params={"after": b64('{"offset": "2"}')},
    ),
    Case(
        "GET",
        "/entities",
        "Malformed after cursor, keyset was not a list of strings",
        params={"after": b64('{"limit": 2, "keyset": [1]}')},
    ),
    Case("GET", "/entities", "Unknown query parameter 'filters'", params={"filters": "kind=a"}),
    # GET /entities/by-query
    Case(
        "GET",
        "/entities/by-query",
        "Invalid order field order, must be asc or desc",
        params={"orderField": "metadata.name,up"},
    ),
    Case("GET", "/entities/by-query", "Malformed cursor: ", params={"cursor": "%%%"}),
    Case("GET", "/entities/by-query", "Malformed cursor: ", params={"cursor": b64("{}")}),
    Case("GET", "/entities/by-query", "Malformed cursor: ", params={"cursor": b64("[1]")}),
    Case("GET", "/entities/by-query", "Cursor cannot be empty", params={"cursor": ""}),
    Case(
        "GET",
        "/entities/by-query",
        'Invalid totalItems parameter "some", expected one of: include, exclude',
        params={"totalItems": "some"},
    ),
    Case("GET", "/entities/by-query", "request/query/limit must be >= 0", params={"limit": "-1"}),
    Case("GET", "/entities/by-query", "Unknown query parameter 'order'", params={"order": "asc:a"}),
    Case("GET", "/entities/by-query", _FILTER, params={"filter": "=x"}),
    # POST /entities/by-query
    Case("POST", "/entities/by-query", "Invalid query: Validation error: ", body={"query": "kind"}),
    Case("POST", "/entities/by-query", "Invalid query: ", body={"query": {"$all": {}}}),
    Case("POST", "/entities/by-query", "Invalid query: ", body={"query": {"a": {"$regex": "x"}}}),
    Case("POST", "/entities/by-query", "Invalid query: ", body={"query": {"$nope": {}, "a": 1}}),
    Case("POST", "/entities/by-query", "Invalid query: ", body={"query": {"a": {"$in": [{}]}}}),
    Case("POST", "/entities/by-query", "Invalid query: ", body={"query": _deep(40)}),
    Case(
        "POST",
        "/entities/by-query",
        'Empty "$in" array for $contains on "relations" is not allowed',
        body={"query": {"relations": {"$contains": {"type": "ownedBy", "targetRef": {"$in": []}}}}},
    ),
    Case(
        "POST",
        "/entities/by-query",
        'The $contains operator for "relations" requires a "type" string property',
        body={"query": {"relations": {"$contains": {"targetRef": "group:default/a"}}}},
    ),
    Case(
        "POST",
        "/entities/by-query",
        'Object form of $contains is not supported for field "metadata.tags"',
        body={"query": {"metadata.tags": {"$contains": {"a": "b"}}}},
    ),
    Case("POST", "/entities/by-query", "Cursor cannot be empty", body={"cursor": ""}),
    Case("POST", "/entities/by-query", "Malformed cursor: ", body={"cursor": b64('{"a":1}')}),
    Case(
        "POST",
        "/entities/by-query",
        "Invalid order field order, must be asc or desc",
        body={"orderBy": [{"field": "metadata.name", "order": "sideways"}]},
    ),
    Case(
        "POST",
        "/entities/by-query",
        'Invalid totalItems value "all", expected one of: include, exclude',
        body={"totalItems": "all"},
    ),
    Case(
        "POST",
        "/entities/by-query",
        "Malformed JSON in request body",
        content=b"{nope",
        headers={"content-type": "application/json"},
    ),
    Case(
        "POST",
        "/entities/by-query",
        "Illegal Content-Type",
        content=b'{"limit": 1}',
        headers={"content-type": "text/plain"},
    ),
    Case("POST", "/entities/by-query", "Expected body to be a JSON object", body=[1]),
    Case("POST", "/entities/by-query", "Unknown query parameter 'limit'", params={"limit": "1"}),
    # POST /entities/by-refs
    Case("POST", "/entities/by-refs", _BY_REFS + 'Required at "entityRefs"', body={}),
    Case("POST", "/entities/by-refs", _BY_REFS + 'Required at "entityRefs"', content=b""),
    Case("POST", "/entities/by-refs", _BY_REFS + "Expected array", body={"entityRefs": "a"}),
    Case("POST", "/entities/by-refs", _BY_REFS + "Expected string", body={"entityRefs": [1]}),
    Case("POST", "/entities/by-refs", _BY_REFS, body={"entityRefs": [], "query": 5}),
    Case("POST", "/entities/by-refs", _FILTER, body={"entityRefs": []}, params={"filter": "=x"}),
    # facets
    Case("GET", "/entity-facets", "Missing facet parameter"),
    Case("GET", "/entity-facets", "Missing facet parameter", params={"facet": ""}),
    Case("POST", "/entity-facets", "Missing or empty facets parameter", body={"facets": []}),
    Case("POST", "/entity-facets", "Missing or empty facets parameter", body={}),
    Case(
        "POST",
        "/entity-facets",
        "Invalid query: ",
        body={"facets": ["kind"], "query": {"$any": "x"}},
    ),
    # single entities
    Case(
        "GET",
        "/entities/by-name/nokind/default/petstore",
        "No entity named 'petstore' found, with kind 'nokind' in namespace 'default'",
        status=404,
        name="NotFoundError",
    ),
    Case("GET", "/entities/by-uid/x", "Unknown query parameter 'x'", params={"x": "1"}),
    Case("DELETE", "/entities/by-uid/x", "Unknown query parameter 'x'", params={"x": "1"}),
]


async def test_bad_requests_are_refused_and_change_nothing(
    database_config: dict[str, Any],
) -> None:
    config = {"backend": {"server": {"requestBodyLimit": "4kb"}}}
    async with started_catalog(database_config, config=config) as catalog:
        before = await catalog.stored()
        for case in CASES:
            kwargs: dict[str, Any] = {"params": case.params, "headers": case.headers}
            if case.body is not None:
                kwargs["json"] = case.body
            elif case.content is not None:
                kwargs["content"] = case.content
            response = await catalog.test.client.request(
                case.method, f"/api/catalog{case.path}", **kwargs
            )
            assert response.status_code == case.status, (case, response.text)
            body = response.json()
            assert body["error"]["name"] == case.name, case
            assert body["error"]["message"].startswith(case.message), (case, body)
            assert body["request"]["method"] == case.method
            assert body["request"]["url"].startswith(case.path)
            assert body["response"] == {"statusCode": case.status}

        refs = [f"component:default/entity-{i:05d}" for i in range(400)]
        too_large = await catalog.post("/entities/by-refs", {"entityRefs": refs})
        assert too_large.status_code == 413
        assert too_large.json()["response"] == {"statusCode": 413}
        assert too_large.json()["error"]["name"] == "PayloadTooLargeError"

        assert await catalog.stored() == before
        assert len(before) == 13
