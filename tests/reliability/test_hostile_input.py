"""Hostile input over every route of the catalog and search plugins, with valid credentials,
against a real `all` unit on Postgres: random path parameters, query strings (filters with
odd characters, NUL, invalid UTF-8 percent-escapes, huge numbers, deep brackets) and JSON
bodies of odd shapes (deep nesting, wrong types, huge integers, NUL, invalid UTF-8).
Client input never gets a 5xx, every 4xx carries Backstage's error body, and afterwards the
example catalog is still served whole.

`ROUTES` is kept equal to the routes the plugins mount by
`test_routes_cover_every_plugin_route`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from backstage_backend_plugin_api import core_services
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_search_backend import search_plugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.deploy._units import UnitProcess

from ._catalog import Cluster, cluster, example_refs

# (method, path template, query parameter names, JSON body keys) of every plugin route.
ROUTES: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("GET", "/api/catalog/entities", ("filter", "fields", "order", "limit", "offset", "after"), ()),
    (
        "GET",
        "/api/catalog/entities/by-query",
        (
            "filter",
            "fields",
            "orderField",
            "limit",
            "offset",
            "cursor",
            "fullTextFilterTerm",
            "fullTextFilterFields",
            "totalItems",
        ),
        (),
    ),
    (
        "POST",
        "/api/catalog/entities/by-query",
        ("fields", "limit", "cursor", "orderField"),
        ("query", "fields", "limit", "offset", "cursor", "orderField", "fullTextFilter"),
    ),
    ("POST", "/api/catalog/entities/by-refs", ("filter", "fields"), ("entityRefs", "fields")),
    ("GET", "/api/catalog/entities/by-uid/{uid}", (), ()),
    ("DELETE", "/api/catalog/entities/by-uid/{uid}", (), ()),
    ("GET", "/api/catalog/entities/by-name/{kind}/{namespace}/{name}", (), ()),
    ("GET", "/api/catalog/entities/by-name/{kind}/{namespace}/{name}/ancestry", (), ()),
    ("GET", "/api/catalog/entity-facets", ("facet", "filter"), ()),
    ("POST", "/api/catalog/entity-facets", (), ("facets", "query")),
    ("GET", "/api/catalog/locations", (), ()),
    ("POST", "/api/catalog/locations", ("dryRun",), ("type", "target", "presence")),
    ("POST", "/api/catalog/locations/by-query", (), ("query", "limit", "offset", "cursor")),
    ("GET", "/api/catalog/locations/{location_id}", (), ()),
    ("PUT", "/api/catalog/locations/{location_id}", (), ("type", "target")),
    ("DELETE", "/api/catalog/locations/{location_id}", (), ()),
    ("GET", "/api/catalog/locations/by-entity/{kind}/{namespace}/{name}", (), ()),
    ("POST", "/api/catalog/refresh", (), ("entityRef", "authorizationToken")),
    ("POST", "/api/catalog/validate-entity", (), ("entity", "location")),
    ("POST", "/api/catalog/analyze-location", (), ("location", "catalogFilename")),
    (
        "GET",
        "/api/search/query",
        ("term", "types", "filters", "pageLimit", "pageCursor"),
        (),
    ),
]
# Every plugin's router also serves its public keys, the user cookie and its OpenAPI document.
ROUTES += [
    (method, f"/api/{plugin}/.backstage/auth/v1/{path}", (), ())
    for plugin in ("catalog", "search")
    for method, path in (("GET", "jwks.json"), ("GET", "cookie"), ("DELETE", "cookie"))
]
ROUTES += [("GET", f"/api/{plugin}/openapi.json", (), ()) for plugin in ("catalog", "search")]
# The catalog's resources are the permission framework's: its metadata and the conditions
# the permission plugin asks it to apply.
ROUTES += [
    ("GET", "/api/catalog/.well-known/backstage/permissions/metadata", (), ()),
    ("POST", "/api/catalog/.well-known/backstage/permissions/apply-conditions", (), ("items",)),
]
EXAMPLES_PER_ROUTE = 30

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

# Text an attacker would try: markup and operators of the filter grammar, NUL, surrogates
# and other odd code points, very long runs.
_ODD_TEXT = st.text(
    alphabet=st.sampled_from(
        [
            *"aZ09-_.:/=,!~*%&?#[]{}()\"'\\ +@$;<>|^`",
            *("\x00", "\x01", "\n", "\t", "\u202e", "\ufeff", "\u00e9", "\U0001d518"),
        ]
    ),
    max_size=40,
)
_NUMBER_TEXT = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["NaN", "Infinity", "-0", "1e309", "0x10", "2147483648", "9" * 400, ""]),
)
# Raw percent-escapes, including byte sequences that are not UTF-8.
_RAW_ESCAPES = st.lists(
    st.sampled_from(["%ff", "%c3%28", "%00", "%e2%82", "%ed%a0%80", "%80", "%2f", "%2e%2e", "%25"]),
    min_size=1,
    max_size=4,
).map("".join)
_LONG_TEXT = st.integers(min_value=1000, max_value=20000).map(lambda size: "x" * size)


def _quoted(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(lambda text: quote(text, safe=""))


_VALUE = st.one_of(
    _quoted(_ODD_TEXT),
    _quoted(_NUMBER_TEXT),
    _RAW_ESCAPES,
    _quoted(_LONG_TEXT),
    st.sampled_from(
        [
            "kind%3Dcomponent",
            "kind%3D",
            "%3D%3D%3D",
            "metadata.name%3D%00",
            "kind%3Dcomponent%2Cmetadata.name%3Dx%00y",
            "spec.type",
            "metadata",
            "a" * 3000,
        ]
    ),
)


def _query_key(names: tuple[str, ...]) -> st.SearchStrategy[str]:
    known = st.sampled_from(names) if names else st.just("filter")
    return st.one_of(
        known,
        known.flatmap(lambda name: st.integers(0, 40).map(lambda depth: name + "[a]" * depth)),
        known.map(lambda name: f"{name}[]"),
        known.map(lambda name: f"{name}[99999999999999999999]"),
        _quoted(_ODD_TEXT),
        _RAW_ESCAPES,
    )


def _query(names: tuple[str, ...]) -> st.SearchStrategy[str]:
    pair = st.tuples(_query_key(names), _VALUE).map(
        lambda item: f"{quote(item[0], safe='[]%')}={item[1]}"
    )
    many_filters = st.integers(1, 1500).map(
        lambda count: "&".join(f"filter=metadata.name%3Dn{index}" for index in range(count))
    )
    return st.one_of(
        st.lists(pair, max_size=6).map("&".join),
        many_filters,
    )


def _segment() -> st.SearchStrategy[str]:
    return st.one_of(
        _quoted(_ODD_TEXT.filter(lambda text: text not in ("", ".", ".."))),
        _RAW_ESCAPES,
        _quoted(_NUMBER_TEXT.filter(bool)),
        st.sampled_from(["component", "default", "checkout-service", "x" * 5000]),
    )


def _json_value() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        _ODD_TEXT,
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.one_of(_ODD_TEXT, st.just("$all")), children, max_size=4),
        ),
        max_leaves=12,
    )


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _body(keys: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    shaped = (
        st.dictionaries(st.sampled_from(keys), _json_value(), max_size=len(keys))
        if keys
        else st.just({})
    )
    deep_value = st.integers(50, 5000).map(lambda depth: json.loads(_nested(min(depth, 500))))
    deep = st.tuples(st.sampled_from(keys or ("query",)), deep_value).map(
        lambda item: {item[0]: item[1]}
    )
    many_refs = st.integers(1, 70000).map(
        lambda count: {"entityRefs": [f"component:default/n{index}" for index in range(count)]}
    )
    predicates = st.sampled_from(
        [
            {"query": {"$all": [{"kind": "component"}] * 2000}},
            {"query": {"$any": [{"metadata.name": f"n{i}"} for i in range(3000)]}},
            {"query": {"$not": {"$not": {"$not": {"kind": "x"}}}}},
            {"query": {"kind": {"$in": ["a\x00b"]}}},
            {"query": {"metadata.name": {"$exists": "yes"}}},
            {"query": {"kind": "\x00"}},
            {"limit": 2**63},
            {"limit": -1},
            {"offset": 2**40},
            {"entityRefs": ["\x00"]},
            {"type": "url", "target": "http://\\@127.0.0.1/x"},
            {"type": "file", "target": "../../../../etc/passwd"},
        ]
    )
    encoded = st.one_of(shaped, deep, many_refs, predicates).map(
        lambda value: json.dumps(value).encode()
    )
    raw = st.sampled_from(
        [
            b"",
            b"{",
            b"null",
            b"[]",
            b'"text"',
            b'{"entityRefs": "\xff\xfe"}',
            b"\xff\xfe\x00",
            b'{"a": 1e99999}',
            b'{"query": {"kind": "\\u0000"}}',
            b'{"limit": 99999999999999999999999999999}',
            _nested(100_000).encode(),
        ]
    )
    return st.one_of(encoded, raw)


@dataclass(frozen=True)
class Payload:
    """A request target and body, shown shortened in failure reports."""

    target: bytes
    body: bytes | None

    def __repr__(self) -> str:
        body = "None" if self.body is None else f"{self.body[:300]!r} ({len(self.body)} bytes)"
        return f"Payload(target={self.target[:300]!r} ({len(self.target)} bytes), body={body})"


def _request(
    route: tuple[str, str, tuple[str, ...], tuple[str, ...]],
) -> st.SearchStrategy[Payload]:
    method, template, query_names, body_keys = route
    names = _PARAM.findall(template)
    path = st.tuples(*(_segment() for _ in names)).map(
        lambda values: _PARAM.sub(_fill(list(values)), template)
    )
    body: st.SearchStrategy[bytes | None] = (
        _body(body_keys) if method in ("POST", "PUT") else st.just(None)
    )
    return st.tuples(path, _query(query_names), body).map(
        lambda item: Payload((item[0] + ("?" + item[1] if item[1] else "")).encode(), item[2])
    )


def _fill(values: list[str]) -> Any:
    remaining = iter(values)
    return lambda _match: next(remaining)


def _assert_client_answer(method: str, target: bytes, response: httpx.Response) -> None:
    what = f"{method} {target[:300]!r}: {response.status_code} {response.text[:500]}"
    assert response.status_code < 500, what
    if response.status_code < 400 or method == "HEAD":
        return
    body = response.json()
    assert isinstance(body, dict), what
    if target.startswith(b"/api/catalog/validate-entity") and response.status_code == 400:
        # Backstage answers an invalid entity with the list of what is wrong in it.
        errors = body.get("errors")
        assert isinstance(errors, list), what
        assert errors, what
        assert all(isinstance(error.get("message"), str) for error in errors), what
        return
    assert isinstance(body.get("error"), dict), what
    assert isinstance(body["error"].get("name"), str), what
    assert isinstance(body["error"].get("message"), str), what
    assert body.get("response") == {"statusCode": response.status_code}, what
    assert isinstance(body.get("request"), dict), what
    assert body["request"].get("method") == method, what


@pytest.fixture(scope="module")
def hostile_target(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Cluster, UnitProcess]]:
    with cluster(tmp_path_factory.mktemp("hostile")) as nodes:
        unit = nodes.add_unit(
            unit="all", config={"catalog": {"processingInterval": {"seconds": 30}}}
        )
        unit.start()
        unit.wait_ready()
        nodes.wait_served(unit, example_refs())
        yield nodes, unit
        # Nothing the hostile requests did lost or corrupted the catalog.
        assert None not in nodes.by_refs(unit, example_refs())
        assert unit.stop() == 0, unit.tail()


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_hostile_input_never_gets_a_5xx(
    hostile_target: tuple[Cluster, UnitProcess],
    route: tuple[str, str, tuple[str, ...], tuple[str, ...]],
) -> None:
    nodes, unit = hostile_target
    # A HEAD is answered as its GET (headers only): it must hold the same way.
    methods = ["GET", "HEAD"] if route[0] == "GET" else [route[0]]

    # The same examples on every run, so that CI fails for a change, never for a draw;
    # to explore further, run it with derandomize=False and more examples.
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_request(route), st.sampled_from(methods))
    def check(request: Payload, method: str) -> None:
        target, body = request.target, request.body
        url = httpx.URL(unit.url).copy_with(raw_path=target)
        headers = dict(nodes.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = httpx.request(method, url, content=body, headers=headers, timeout=60)
        except httpx.TransportError as error:
            raise AssertionError(
                f"{method} {target[:300]!r}: no answer ({type(error).__name__}: {error})"
            ) from error
        _assert_client_answer(method, target, response)

    check()


async def test_routes_cover_every_plugin_route() -> None:
    """`ROUTES` is exactly what the catalog and search plugins mount."""
    config = {"catalog": {"processingInterval": False}}
    async with start_test_backend(
        features=[catalog_plugin(), search_plugin()], config=config
    ) as test:
        root: Any = await test.get_service(core_services.root_http_router)
        mounted = {
            (method, _PARAM.sub(lambda match: "{" + match.group(1) + "}", route.path))
            for route in root.router.asgi.app.routes
            if route.path.startswith(("/api/catalog/", "/api/search/"))
            for method in route.methods
            if method not in ("HEAD", "OPTIONS")
        }
    assert mounted == {(method, path) for method, path, _, _ in ROUTES}
