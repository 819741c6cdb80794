"""Query strings with brackets, as the `qs` package that Backstage's clients use writes them.

`types[0]=a&types[1]=b`, `types[]=a`, `types=a&types=b` and `types=a` all give a list or a
value under `types`; `filters[kind]=API&filters[lifecycle][0]=production` gives an object.
As in `qs`, indices above 20 are object keys and nesting stops at depth 5. Invalid UTF-8
and NUL characters in a name or value are refused (400): no engine could match them, and
Postgres refuses a NUL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from backstage_common.errors import InputError

__all__ = ["parse_query_string"]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_MAX_INDEX = 20
_MAX_DEPTH = 5
_MAX_PAIRS = 1000


@dataclass
class _Branch:
    children: dict[str | int, _Branch | list[str]] = field(default_factory=dict)
    appended: list[Any] = field(default_factory=list)


def _segments(key: str) -> list[str | int]:
    match = _KEY.match(key)
    if match is None:
        return [key]
    parts: list[str | int] = [match.group(1)]
    inner = _SEGMENT.findall(match.group(2))
    for part in inner[:_MAX_DEPTH]:
        parts.append(int(part) if part.isdigit() and int(part) <= _MAX_INDEX else part)
    if len(inner) > _MAX_DEPTH:
        parts.append("".join(f"[{part}]" for part in inner[_MAX_DEPTH:]))
    return parts


def _insert(root: _Branch, path: list[str | int], value: str) -> None:
    node = root
    for segment in path[:-1]:
        child = node.children.get(segment) if segment != "" else None
        if not isinstance(child, _Branch):
            branch = _Branch(appended=list(child or []))
            if segment == "":
                node.appended.append(branch)
            else:
                node.children[segment] = branch
            child = branch
        node = child
    last = path[-1]
    if last == "":
        node.appended.append(value)
        return
    existing = node.children.get(last)
    if existing is None:
        node.children[last] = [value]
    elif isinstance(existing, list):
        existing.append(value)
    else:
        existing.appended.append(value)


def _finish(node: _Branch | list[str] | str) -> Any:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return node[0] if len(node) == 1 else list(node)
    if all(isinstance(key, int) for key in node.children):
        ordered = [node.children[key] for key in sorted(node.children, key=int)]
        return [_finish(item) for item in ordered] + [_finish(item) for item in node.appended]
    result: dict[str, Any] = {str(key): _finish(value) for key, value in node.children.items()}
    for offset, item in enumerate(node.appended):
        result[str(len(node.children) + offset)] = _finish(item)
    return result


def parse_query_string(query: str) -> dict[str, Any]:
    """The parameters of `query` (without the `?`): strings, lists and objects;
    InputError when one is not valid UTF-8 or holds a NUL character."""
    root = _Branch()
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=None, errors="strict")
    except UnicodeDecodeError:
        raise InputError("Query parameters must be valid UTF-8") from None
    for key, value in pairs[:_MAX_PAIRS]:
        if "\x00" in key or "\x00" in value:
            raise InputError("Query parameters must not contain NUL characters")
        if key:
            _insert(root, _segments(key), value)
    return {str(key): _finish(value) for key, value in root.children.items()}
