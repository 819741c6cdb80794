"""GET /entities: Backstage's filter grammar, fields, ordering, paging and streaming."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from backstage_plugin_catalog_backend.api import _list

from .sample_catalog import Catalog, started_catalog
from .test_entities_by_query import recorded_statements


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [entity["metadata"]["name"] for entity in response.json()]


async def test_filter_grammar(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        # values and keys are case-insensitive; commas AND different keys
        assert sorted(
            names(await catalog.get("/entities", filter="KIND=component,spec.type=Service"))
        ) == [
            "monitor",
            "petstore",
            "worker",
        ]
        # repeated filter parameters are ORed
        assert sorted(names(await catalog.get("/entities", filter=["kind=user", "kind=api"]))) == [
            "alice",
            "bob",
            "petstore-api",
            "search-api",
        ]
        # the same key twice in one set is an OR of its values
        assert sorted(
            names(
                await catalog.get(
                    "/entities", filter="kind=group,metadata.name=team-a,metadata.name=org"
                )
            )
        ) == [
            "org",
            "team-a",
        ]
        # a bare key tests existence; array elements and relations are searchable
        assert sorted(
            names(await catalog.get("/entities", filter="kind=component,metadata.tags"))
        ) == [
            "petstore",
            "website",
            "worker",
        ]
        assert names(await catalog.get("/entities", filter="metadata.tags=web")) == ["petstore"]
        assert sorted(
            names(await catalog.get("/entities", filter="relations.ownedby=group:default/team-a"))
        ) == ["monitor", "pets", "petstore", "petstore-api"]
        assert names(await catalog.get("/entities", filter="metadata.namespace=ops")) == ["monitor"]
        assert (
            names(await catalog.get("/entities", filter="kind=component,spec.type=nothing")) == []
        )
        # an empty filter statement list filters nothing
        assert len(names(await catalog.get("/entities", filter=","))) == 13


async def test_fields_projection(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        response = await catalog.get(
            "/entities",
            filter="metadata.name=petstore",
            fields="kind,metadata.name,metadata.annotations.backstage.io/view-url,spec.nothing",
        )
        assert response.json() == [
            {
                "kind": "Component",
                "metadata": {
                    "name": "petstore",
                    "annotations": {"backstage.io/view-url": "https://example.com/petstore"},
                },
            }
        ]
        # repeated and comma-joined fields combine
        response = await catalog.get(
            "/entities", filter="metadata.name=alice", fields=["kind", "spec.profile,kind"]
        )
        assert response.json() == [
            {"kind": "User", "spec": {"profile": {"displayName": "Alice Adams"}}}
        ]


async def test_every_order_field_is_honoured(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        response = await catalog.get(
            "/entities",
            filter="kind=component",
            order=["asc:spec.type", "desc:metadata.name"],
            fields="metadata.name",
        )
        assert names(response) == ["worker", "petstore", "monitor", "website"]
        # entities lacking the field come last instead of disappearing
        response = await catalog.get(
            "/entities", filter="kind=component", order="asc:metadata.title"
        )
        assert names(response)[:2] == ["petstore", "website"]
        assert sorted(names(response)[2:]) == ["monitor", "worker"]


async def _follow_links(catalog: Catalog, params: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    response = await catalog.get("/entities", **params)
    while True:
        seen += names(response)
        link = response.headers.get("link")
        if link is None:
            return seen
        assert link.startswith("</entities?")
        assert link.endswith('>; rel="next"')
        query = parse_qs(urlsplit(link[1 : link.index(">")]).query)
        assert "offset" not in query
        response = await catalog.get("/entities", **query)


async def test_paging_with_link_headers(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        everything = names(await catalog.get("/entities", order="asc:metadata.name"))
        assert len(everything) == 13
        paged = await _follow_links(catalog, {"limit": 4, "order": "asc:metadata.name"})
        assert paged == everything
        # without an order, pages follow the entity ref
        by_ref = await _follow_links(catalog, {"limit": 5, "filter": "kind=group,kind=user"})
        assert by_ref == ["org", "team-a", "team-b", "alice", "bob"]
        # offset alone skips; a hand-made Backstage `after` cursor (limit/offset) works too
        assert (
            names(await catalog.get("/entities", order="asc:metadata.name", offset=11))
            == (everything[11:])
        )
        after = base64.b64encode(json.dumps({"limit": 2, "offset": 3}).encode()).decode()
        response = await catalog.get("/entities", order="asc:metadata.name", after=after)
        assert names(response) == everything[3:5]
        assert response.headers["link"]


async def test_unpaged_list_is_streamed_in_chunks(
    database_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_list, "STREAM_CHUNK_SIZE", 3)
    async with started_catalog(database_config) as catalog:
        response = await catalog.get("/entities")
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert len(names(response)) == 13
        assert len({e["metadata"]["uid"] for e in response.json()}) == 13
        ordered = names(await catalog.get("/entities", order="desc:metadata.name"))
        assert ordered == sorted(ordered, reverse=True)
        assert names(await catalog.get("/entities", filter="kind=nothing")) == []
        six = await catalog.get("/entities", filter="kind=component,kind=api,kind=system")
        assert len(names(six)) == 7


async def raw_bytes(catalog: Catalog, method: str, path: str, **kwargs: Any) -> tuple[Any, bytes]:
    """The response and its body as sent (httpx would inflate a gzip body)."""
    request = catalog.test.client.build_request(method, f"/api/catalog{path}", **kwargs)
    response = await catalog.test.client.send(request, stream=True)
    body = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    return response, body


async def test_streamed_list_and_by_refs_are_gzipped_for_clients_that_ask(
    database_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_list, "STREAM_CHUNK_SIZE", 3)
    gzip_only = {"Accept-Encoding": "gzip"}
    identity = {"Accept-Encoding": "identity"}
    async with started_catalog(database_config) as catalog:
        plain, plain_list = await raw_bytes(catalog, "GET", "/entities", headers=identity)
        zipped, zipped_list = await raw_bytes(catalog, "GET", "/entities", headers=gzip_only)
        refs = sorted({entity_ref(entity) for entity in json.loads(plain_list)})
        refs_body = {"entityRefs": refs}
        _, plain_refs = await raw_bytes(
            catalog, "POST", "/entities/by-refs", json=refs_body, headers=identity
        )
        by_refs, zipped_refs = await raw_bytes(
            catalog, "POST", "/entities/by-refs", json=refs_body, headers=gzip_only
        )
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["transfer-encoding"] == "chunked"
    assert gzip.decompress(zipped_list) == plain_list
    assert len(json.loads(plain_list)) == 13
    assert by_refs.headers["content-encoding"] == "gzip"
    assert int(by_refs.headers["content-length"]) == len(zipped_refs)
    assert gzip.decompress(zipped_refs) == plain_refs


def entity_ref(entity: dict[str, Any]) -> str:
    metadata = entity["metadata"]
    return f"{entity['kind']}:{metadata.get('namespace', 'default')}/{metadata['name']}".lower()


async def test_entities_are_served_as_stored(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        stored = {ref: text for ref, _, text in await catalog.stored()}
        response = await catalog.get("/entities", filter="metadata.name=petstore")
        assert response.content.decode() == "[" + stored["component:default/petstore"] + "]"


async def test_streamed_chunks_cross_missing_values(
    database_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_list, "STREAM_CHUNK_SIZE", 2)
    async with started_catalog(database_config) as catalog:
        order = ["desc:metadata.title", "asc:metadata.name"]
        streamed = names(await catalog.get("/entities", order=order))
        assert streamed[:5] == ["website", "team-b", "team-a", "search-api", "petstore"]
        assert streamed[5:] == sorted(streamed[5:])
        assert len(set(streamed)) == 13
        paged = await _follow_links(catalog, {"limit": 3, "order": order})
        assert paged == streamed


async def test_a_kind_streams_in_ref_order_whatever_its_neighbours(
    database_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_list, "STREAM_CHUNK_SIZE", 2)

    def entity(kind: str, namespace: str, name: str) -> dict[str, Any]:
        return {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": kind,
            "metadata": {"namespace": namespace, "name": name},
            "spec": {},
        }

    # kinds whose refs sort right before and after components', and namespaces and names
    # that sort before and after `default`
    seeded = [
        entity("Compo", "default", "before"),
        entity("Componentx", "a", "after"),
        *(
            entity("Component", namespace, name)
            for namespace in ("0-first", "a", "default", "z-team")
            for name in ("-dash", "a", "a.b", "z")
        ),
    ]
    async with started_catalog(database_config, seeded, parents={}) as catalog:
        with recorded_statements(catalog.engine) as statements:
            response = await catalog.get("/entities", filter="kind=component")
        assert response.status_code == 200, response.text
        # each chunk walks the (kind of ref, ref) index: no search rows, no sort of them all
        pages = [statement for statement in statements if "final_entity" in statement]
        assert pages
        assert all("search_walk" not in page for page in pages)
        refs = [
            f"component:{e['metadata']['namespace']}/{e['metadata']['name']}"
            for e in response.json()
        ]
        # the order the database gives refs (its collation)
        stored = [ref for ref, _, _ in await catalog.stored() if ref.startswith("component:")]
        assert len(refs) == 16
        assert refs == stored
        paged = await _follow_links(catalog, {"limit": 3, "filter": "kind=Component"})
        assert len(paged) == 16
