"""One contract for both engines: ranking, prefixes, highlights, filters, paging, and an
index replaced whole or not at all."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from backstage_common.errors import InputError
from backstage_plugin_search_node import (
    MAX_PAGE,
    FilterValue,
    IndexableDocument,
    SearchEngine,
    SearchQuery,
    encode_page_cursor,
)

TYPE = "software-catalog"


def entity(name: str, text: str, kind: str = "Component", **extra: object) -> IndexableDocument:
    return {
        "title": name,
        "text": text,
        "location": f"/catalog/default/{kind.lower()}/{name}",
        "kind": kind,
        "owner": "team-a",
        **extra,
    }


DOCUMENTS = [
    entity("petstore-api", "The petstore REST API", kind="API", lifecycle="production"),
    entity("pet-food", "Food for pets, ordered from the petstore", lifecycle="experimental"),
    entity("billing", "Invoices and payments", tags=["finance", "Web"]),
    entity("shipping", "Ships parcels", owner="team-b"),
]


async def index(
    engine: SearchEngine, documents: Sequence[IndexableDocument], type: str = TYPE
) -> None:
    indexer = await engine.get_indexer(type)
    for start in range(0, len(documents), 2):
        await indexer.index(documents[start : start + 2])
    await indexer.finalize()


async def titles(
    engine: SearchEngine, term: str, filters: dict[str, FilterValue] | None = None
) -> list[str]:
    result = await engine.query(SearchQuery(term=term, types=(TYPE,), filters=filters or {}))
    return [item.document["title"] for item in result.results]


async def test_the_best_match_comes_first_and_every_word_must_match(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    # both mention the petstore; the one named after it ranks first
    assert await titles(engine, "petstore") == ["petstore-api", "pet-food"]
    assert await titles(engine, "petstore food") == ["pet-food"]
    assert await titles(engine, "invoices nothing-like-it") == []


async def test_words_match_by_stem_and_by_prefix(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    assert "pet-food" in await titles(engine, "pet")  # pets
    assert await titles(engine, "invoice") == ["billing"]  # Invoices
    assert await titles(engine, "petsto") == ["petstore-api", "pet-food"]  # a prefix
    assert await titles(engine, "ship") == ["shipping"]


async def test_hits_are_highlighted_with_the_engine_tags(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    result = await engine.query(SearchQuery(term="invoices", types=(TYPE,)))
    [hit] = result.results
    assert hit.highlight is not None
    pre, post = hit.highlight.pre_tag, hit.highlight.post_tag
    assert pre.startswith("<")
    assert post.startswith("</")
    assert pre[1:] == post[2:]
    assert hit.highlight.fields["text"] == f"{pre}Invoices{post} and payments"
    assert "title" not in hit.highlight.fields


async def test_an_empty_term_lists_every_document_without_highlights(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    result = await engine.query(SearchQuery(term="", types=(TYPE,)))
    assert [item.document["title"] for item in result.results] == [
        document["title"] for document in DOCUMENTS
    ]
    assert result.number_of_results == 4
    assert all(
        item.highlight is not None and item.highlight.fields == {} for item in result.results
    )


async def test_filters_match_values_ignoring_case_and_values_are_alternatives(
    engine: SearchEngine,
) -> None:
    await index(engine, DOCUMENTS)
    assert await titles(engine, "", filters={"kind": "api"}) == ["petstore-api"]
    assert await titles(engine, "pet", filters={"kind": "Component"}) == ["pet-food"]
    assert await titles(engine, "", filters={"lifecycle": ["production", "experimental"]}) == [
        "petstore-api",
        "pet-food",
    ]
    assert await titles(engine, "", filters={"tags": "web"}) == ["billing"]
    assert await titles(engine, "", filters={"kind": "API", "owner": "team-b"}) == []
    assert await titles(engine, "", filters={"missing": "x"}) == []


async def test_pages_have_ranks_cursors_and_a_total(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    first = await engine.query(SearchQuery(term="", types=(TYPE,), page_limit=3))
    assert [item.rank for item in first.results] == [1, 2, 3]
    assert first.next_page_cursor == "MQ=="
    assert first.previous_page_cursor is None
    assert first.number_of_results == 4
    second = await engine.query(
        SearchQuery(term="", types=(TYPE,), page_limit=3, page_cursor=first.next_page_cursor)
    )
    assert [item.rank for item in second.results] == [4]
    assert second.next_page_cursor is None
    assert second.previous_page_cursor == "MA=="
    # page limit 0 is the default page of 25, as in Backstage
    everything = await engine.query(SearchQuery(term="", types=(TYPE,), page_limit=0))
    assert len(everything.results) == 4


async def test_a_type_without_an_index_is_flagged_not_an_error(engine: SearchEngine) -> None:
    result = await engine.query(SearchQuery(term="pet", types=(TYPE, "techdocs")))
    assert result.results == []
    assert result.unindexed_types == [TYPE, "techdocs"]
    await index(engine, DOCUMENTS)
    result = await engine.query(SearchQuery(term="pet", types=(TYPE, "techdocs")))
    assert result.results
    assert result.unindexed_types == ["techdocs"]


async def test_types_are_searched_together_and_kept_apart(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    await index(engine, [entity("pet-docs", "How to feed pets", kind="Docs")], type="techdocs")
    both = await engine.query(SearchQuery(term="pets", types=(TYPE, "techdocs")))
    assert {item.type for item in both.results} == {TYPE, "techdocs"}
    only = await engine.query(SearchQuery(term="pets", types=("techdocs",)))
    assert [item.document["title"] for item in only.results] == ["pet-docs"]


async def test_a_query_during_indexing_sees_the_old_index_whole(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    indexer = await engine.get_indexer(TYPE)
    await indexer.index([entity("rebuilt", "A new world")])
    assert await titles(engine, "") == [document["title"] for document in DOCUMENTS]
    await indexer.index([entity("rebuilt-too", "A new world")])
    await indexer.finalize()
    assert await titles(engine, "") == ["rebuilt", "rebuilt-too"]
    assert await titles(engine, "petstore") == []


async def test_an_aborted_or_empty_run_keeps_the_old_index(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    aborted = await engine.get_indexer(TYPE)
    await aborted.index([entity("half-built", "Never seen")])
    await aborted.abort()
    empty = await engine.get_indexer(TYPE)
    await empty.finalize()
    assert await titles(engine, "") == [document["title"] for document in DOCUMENTS]
    # a new type whose first run finds nothing has an index: empty, no longer pending
    nothing = await engine.get_indexer("techdocs")
    await nothing.finalize()
    result = await engine.query(SearchQuery(term="", types=("techdocs",)))
    assert result.results == []
    assert result.unindexed_types is None


async def test_a_malformed_cursor_is_an_input_error(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    with pytest.raises(InputError, match="Invalid page cursor"):
        await engine.query(SearchQuery(term="", types=(TYPE,), page_cursor="not-a-page"))


def test_the_postgres_engine_migrations_are_registered_for_the_cli() -> None:
    from importlib.metadata import entry_points
    from importlib.resources import files

    [entry] = [ep for ep in entry_points(group="backstage.migrations") if ep.name == "search"]
    assert files(entry.value).joinpath("0001_search_documents.py").is_file()


async def test_the_deepest_page_is_empty_not_an_error(engine: SearchEngine) -> None:
    await index(engine, DOCUMENTS)
    deepest = encode_page_cursor(MAX_PAGE)
    for term in ("", "pet"):
        query = SearchQuery(term=term, types=(TYPE,), page_limit=100, page_cursor=deepest)
        result = await engine.query(query)
        assert result.results == []
        assert result.next_page_cursor is None
