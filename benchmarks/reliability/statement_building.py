"""How long the catalog takes to build (and compile for Postgres) the statements of the
largest filters its API accepts; prints one JSON line of figures, in milliseconds.

The limits (`MAX_CONDITIONS`, `MAX_VALUES`, `MAX_DEPTH` of the catalog's predicates) keep
this bounded: the statement is built on the event loop, so its build time is how long
every other request waits. Each shape is built fresh (the statement caches are cleared
first), as a new filter is; each figure is the median and
the worst of `--repeat` builds.

    .venv/bin/python benchmarks/reliability/statement_building.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from backstage_plugin_catalog_backend.api import _queries
from backstage_plugin_catalog_backend.api._ordering import OrderField
from backstage_plugin_catalog_common import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_VALUES,
    Predicate,
    parse_entity_filter,
    predicate_problem,
)
from sqlalchemy.dialects import postgresql

_DIALECT = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]


def _or_of_pairs() -> Predicate:
    """`$any` of `$all` pairs: the shape of many `filter=` sets of two statements."""
    pairs = (MAX_CONDITIONS - 1) // 3
    return {
        "$any": [
            {"$all": [{"kind": "component"}, {"metadata.name": f"name-{i}"}]} for i in range(pairs)
        ]
    }


def _flat_fields() -> Predicate:
    """One object with as many field conditions as allowed, ANDed."""
    return {f"metadata.annotations.key-{i}": f"value-{i}" for i in range(MAX_CONDITIONS)}


def _in_lists() -> Predicate:
    """As many values as allowed, spread over `$in` lists."""
    per = MAX_VALUES // 10
    return {f"spec.field-{i}": {"$in": [f"v{i}-{j}" for j in range(per)]} for i in range(10)}


def _deepest() -> Predicate:
    predicate: Predicate = {"kind": "component"}
    for _ in range(MAX_DEPTH - 1):
        predicate = {"$not": predicate}
    return predicate


def _filter_sets() -> Predicate:
    """`filter=` parameters: one set per entity ref, as older clients looked refs up."""
    sets = (MAX_CONDITIONS - 1) // 4
    texts = [f"kind=component,metadata.namespace=default,metadata.name=n{i}" for i in range(sets)]
    predicate = parse_entity_filter(texts)
    assert predicate is not None
    return predicate


def _execution_work(statement: Any) -> None:
    """What SQLAlchemy does on the event loop before a new statement goes to the driver:
    its cache key, then its compilation for the dialect."""
    statement._generate_cache_key()
    statement.compile(dialect=_DIALECT)


def _build_page(predicate: Predicate) -> None:
    order = [OrderField("metadata.name", "asc")]
    entities = _queries.select_entities(order, predicate=predicate, require_first=True)
    statement, _ = entities.page(["a", "b"], limit=100)
    _execution_work(statement)


def _build_count(predicate: Predicate) -> None:
    key = _queries.predicate_key(predicate)
    _execution_work(_queries._count_statement(key, None, "metadata.name"))


def _build_facets(predicate: Predicate) -> None:
    key = _queries.predicate_key(predicate)
    _execution_work(_queries._facets_statement(("kind", "spec.type"), key))


def _clear_caches() -> None:
    _queries._select_entities.cache_clear()
    _queries._count_statement.cache_clear()
    _queries._facets_statement.cache_clear()


def _times_ms(
    build: Callable[[Predicate], None], predicate: Predicate, repeat: int
) -> dict[str, float]:
    """Median and worst of `repeat` fresh builds (the worst includes any collection)."""
    times = []
    for _ in range(repeat):
        _clear_caches()
        gc.collect()
        started = time.perf_counter()
        build(predicate)
        times.append((time.perf_counter() - started) * 1000)
    return {"median": round(statistics.median(times), 1), "max": round(max(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    shapes = {
        "or_of_pairs": _or_of_pairs(),
        "flat_fields": _flat_fields(),
        "in_lists": _in_lists(),
        "deepest": _deepest(),
        "filter_sets": _filter_sets(),
    }
    figures: dict[str, Any] = {
        "limits": {"conditions": MAX_CONDITIONS, "values": MAX_VALUES, "depth": MAX_DEPTH}
    }
    for name, predicate in shapes.items():
        problem = predicate_problem(predicate)
        assert problem is None, (name, problem)
        figures[name] = {
            "page_ms": _times_ms(_build_page, predicate, args.repeat),
            "count_ms": _times_ms(_build_count, predicate, args.repeat),
            "facets_ms": _times_ms(_build_facets, predicate, args.repeat),
        }
    builds = [figures[shape][kind] for shape in shapes for kind in figures[shape]]
    figures["worst_median_ms"] = max(build["median"] for build in builds)
    figures["worst_max_ms"] = max(build["max"] for build in builds)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
