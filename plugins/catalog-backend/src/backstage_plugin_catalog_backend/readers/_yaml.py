"""Multi-document YAML parsing of catalog files, guarded against hostile input.

Documents are composed with libyaml's safe loader; before a document is turned into Python
data its node graph is measured as if every alias were expanded, so an alias bomb ("billion
laughs") is refused instead of being expanded by whatever serialises the entity later.
"""

from __future__ import annotations

from typing import Any

import yaml
from backstage_common.errors import InputError
from backstage_plugin_catalog_node import EntityResult, ErrorResult, LocationSpec, ProcessingResult

__all__ = ["MAX_DOCUMENT_BYTES", "MAX_EXPANDED_NODES", "parse_entity_yaml", "parse_yaml_documents"]

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
"""Largest file read as YAML; bigger files are refused before parsing."""
MAX_EXPANDED_NODES = 200_000
"""Largest number of YAML nodes a document may hold once aliases are expanded."""


def _expanded_size(root: yaml.Node) -> int:
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        if children_done or not children:
            total = 1 + sum(sizes.get(id(child), 0) for child in children)
            sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def parse_yaml_documents(data: bytes | str, source: str) -> list[Any]:
    """Every non-empty document of `data`; raises `InputError` naming `source` on bad YAML,
    on a file larger than `MAX_DOCUMENT_BYTES` and on a document whose alias expansion
    exceeds `MAX_EXPANDED_NODES` nodes."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(
            f"{source} is {len(data)} bytes, more than the {MAX_DOCUMENT_BYTES} bytes "
            "a catalog file may have"
        )
    loader = yaml.CSafeLoader(data)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if _expanded_size(node) > MAX_EXPANDED_NODES:
                raise InputError(
                    f"YAML document in {source} expands to more than {MAX_EXPANDED_NODES} "
                    "nodes through aliases and is refused"
                )
            document = loader.construct_document(node)
            if document is not None:
                documents.append(document)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise InputError(f"YAML error at {source}, {where}: {error.problem}") from error
    except yaml.YAMLError as error:
        raise InputError(f"YAML error at {source}, {error}") from error
    finally:
        loader.dispose()
    return documents


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def parse_entity_yaml(data: bytes, location: LocationSpec) -> list[ProcessingResult]:
    """One entity result per document of a catalog file, or error results."""
    try:
        documents = parse_yaml_documents(data, str(location))
    except InputError as error:
        return [ErrorResult(error, location)]
    results: list[ProcessingResult] = []
    for document in documents:
        if isinstance(document, dict):
            results.append(EntityResult(document, location))
        else:
            message = f"Expected object at root, got {_json_type(document)}"
            results.append(ErrorResult(InputError(message), location))
    return results
