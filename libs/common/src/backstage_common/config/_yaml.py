"""YAML parsing with the YAML 1.2 core schema, as Backstage's `yaml` package reads config.

PyYAML resolves plain scalars by YAML 1.1 rules, where `yes`, `on` and `no` are booleans,
`2024-01-01` is a date and `0755` is octal. Backstage reads config with YAML 1.2, where
those stay strings (and `0755` is decimal), so the loader here swaps in the 1.2 core
schema resolvers. It also rejects duplicate keys, as Backstage does, and reads every
mapping key as a string. Merge keys (`<<: *anchor`) are kept, a PyYAML extension.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

from backstage_common.config._errors import ConfigError

__all__ = ["parse_yaml"]

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"

_DIGITS = list("0123456789")


class _CoreSchemaLoader(_BaseLoader):
    """A safe loader that resolves plain scalars by the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            found = type(node).__name__
            raise ConstructorError(
                None, None, f"expected a mapping node, but found {found}", node.start_mark
            )
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, ScalarNode):
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found a non-scalar key",
                    key_node.start_mark,
                )
            if key_node.value in seen:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key '{key_node.value}'",
                    key_node.start_mark,
                )
            seen.add(key_node.value)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            mapping[str(key_node.value)] = self.construct_object(value_node, deep=deep)
        return mapping

    def scalar_text(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise ConstructorError(
                None, None, f"expected a scalar, got {node.tag}", node.start_mark
            )
        return str(self.construct_scalar(node))

    def construct_core_bool(self, node: Node) -> bool:
        return self.scalar_text(node).lower() == "true"

    def construct_core_int(self, node: Node) -> int:
        text = self.scalar_text(node)
        try:
            if text.startswith(("0o", "0x")):
                return int(text, 0)
            return int(text, 10)
        except ValueError:
            raise ConstructorError(
                None, None, f"invalid integer '{text}'", node.start_mark
            ) from None

    def construct_core_float(self, node: Node) -> float:
        text = self.scalar_text(node).lower()
        if text in (".inf", "+.inf"):
            return float("inf")
        if text == "-.inf":
            return float("-inf")
        if text == ".nan":
            return float("nan")
        try:
            return float(text)
        except ValueError:
            raise ConstructorError(
                None, None, f"invalid number '{text}'", node.start_mark
            ) from None

    def construct_plain_string(self, node: Node) -> str:
        return self.scalar_text(node)


_CoreSchemaLoader.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_CoreSchemaLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreSchemaLoader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), ["-", "+", *_DIGITS]
)
_CoreSchemaLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    ["-", "+", ".", *_DIGITS],
)
_CoreSchemaLoader.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])
_CoreSchemaLoader.add_constructor(_BOOL, _CoreSchemaLoader.construct_core_bool)
_CoreSchemaLoader.add_constructor(_INT, _CoreSchemaLoader.construct_core_int)
_CoreSchemaLoader.add_constructor(_FLOAT, _CoreSchemaLoader.construct_core_float)
# Explicitly tagged timestamps stay strings, as they would in Backstage.
_CoreSchemaLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _CoreSchemaLoader.construct_plain_string
)


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors become a ConfigError naming the file, line and column."""
    try:
        return yaml.load(text, Loader=_CoreSchemaLoader)
    except yaml.MarkedYAMLError as error:
        raise ConfigError(f"Failed to parse YAML in '{file}'{_describe(error)}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"Failed to parse YAML in '{file}': {error}") from error


def _describe(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
    reasons = [reason for reason in (error.context, error.problem) if reason]
    return f"{where}: {', '.join(reasons) or 'invalid YAML'}"
