"""`ref_kind(column)`: the kind part of an entity ref (`kind` of `kind:namespace/name`).

It is written exactly as the expression of the `final_entities_kind_ref_idx` index
(migration 0003), so that a query on one kind, in ref order, walks that index: the refs
of one kind, in order, and nothing else.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["ref_kind"]

_POSTGRES = "split_part({ref}, ':', 1)"
_SQLITE = "substr({ref}, 1, instr({ref}, ':') - 1)"


class ref_kind(FunctionElement[str]):
    """`ref_kind(final_entities.c.entity_ref)`, compiled for the dialect."""

    type = sa.Text()
    inherit_cache = True
    name = "ref_kind"


def _ref(element: ref_kind, compiler: SQLCompiler, **kw: Any) -> str:
    [column] = list(element.clauses)
    return compiler.process(column, **kw)


@compiles(ref_kind, "postgresql")
def _postgres(element: ref_kind, compiler: SQLCompiler, **kw: Any) -> str:
    return _POSTGRES.format(ref=_ref(element, compiler, **kw))


@compiles(ref_kind)
def _sqlite(element: ref_kind, compiler: SQLCompiler, **kw: Any) -> str:
    return _SQLITE.format(ref=_ref(element, compiler, **kw))
