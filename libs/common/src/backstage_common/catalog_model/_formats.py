"""Format rules for the envelope fields (Kubernetes-style names, DNS labels, tags, URLs).

Each check takes any value and answers whether it is a string of the right form.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Final

import ada_url

__all__ = [
    "is_non_blank_string",
    "is_valid_annotation_key",
    "is_valid_annotation_value",
    "is_valid_api_version",
    "is_valid_dns_label",
    "is_valid_dns_subdomain",
    "is_valid_entity_name",
    "is_valid_kind",
    "is_valid_label_key",
    "is_valid_label_value",
    "is_valid_namespace",
    "is_valid_tag",
    "is_valid_url",
]

_DNS_LABEL: Final = re.compile(r"[a-z0-9]+(?:-+[a-z0-9]+)*")
_API_VERSION_SUFFIX: Final = re.compile(r"[a-z0-9A-Z]+")
_KIND: Final = re.compile(r"[a-zA-Z][a-z0-9A-Z]*")
_OBJECT_NAME: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_TAG: Final = re.compile(r"[a-z0-9:+#]+(-[a-z0-9:+#]+)*")


def _matches(pattern: re.Pattern[str], value: Any, max_length: int) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= max_length
        and pattern.fullmatch(value) is not None
    )


def is_valid_dns_label(value: Any) -> bool:
    """1 to 63 lowercase letters and digits, in runs joined by dashes (RFC 1123 label)."""
    return _matches(_DNS_LABEL, value, 63)


def is_valid_dns_subdomain(value: Any) -> bool:
    """1 to 253 characters of dot-separated DNS labels."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 253
        and all(is_valid_dns_label(part) for part in value.split("."))
    )


def _prefix_and_or_suffix(value: Any, suffix_ok: Callable[[str], bool]) -> bool:
    """`<suffix>` or `<dns-subdomain>/<suffix>`: at most one slash."""
    if not isinstance(value, str):
        return False
    return _prefixed(value, suffix_ok)


@functools.lru_cache(maxsize=4096)  # keys such as annotation keys recur in every entity
def _prefixed(value: str, suffix_ok: Callable[[str], bool]) -> bool:
    parts = value.split("/")
    if len(parts) == 1:
        return suffix_ok(parts[0])
    if len(parts) == 2:
        return is_valid_dns_subdomain(parts[0]) and suffix_ok(parts[1])
    return False


def is_valid_api_version(value: Any) -> bool:
    """`<version>` or `<group>/<version>`, e.g. `backstage.io/v1alpha1`."""
    return _prefix_and_or_suffix(value, lambda v: _matches(_API_VERSION_SUFFIX, v, 63))


def is_valid_kind(value: Any) -> bool:
    """1 to 63 letters and digits, starting with a letter."""
    return _matches(_KIND, value, 63)


def is_valid_entity_name(value: Any) -> bool:
    """1 to 63 characters: runs of `[a-zA-Z0-9]` separated by any of `-_.`."""
    return _matches(_OBJECT_NAME, value, 63)


def is_valid_namespace(value: Any) -> bool:
    """A DNS label: lowercase only."""
    return is_valid_dns_label(value)


def is_valid_label_key(value: Any) -> bool:
    """An entity name, optionally prefixed by a DNS subdomain and a slash."""
    return _prefix_and_or_suffix(value, is_valid_entity_name)


def is_valid_label_value(value: Any) -> bool:
    """Empty, or an entity name."""
    return value == "" or is_valid_entity_name(value)


def is_valid_annotation_key(value: Any) -> bool:
    """Same rule as label keys."""
    return _prefix_and_or_suffix(value, is_valid_entity_name)


def is_valid_annotation_value(value: Any) -> bool:
    """Any string."""
    return isinstance(value, str)


def is_valid_tag(value: Any) -> bool:
    """1 to 63 characters: runs of `[a-z0-9:+#]` separated by single dashes."""
    return _matches(_TAG, value, 63)


def is_valid_url(value: Any) -> bool:
    """An absolute URL as a browser's URL parser accepts it."""
    return isinstance(value, str) and ada_url.check_url(value)


def is_non_blank_string(value: Any) -> bool:
    """A string with something other than whitespace in it."""
    return isinstance(value, str) and value.strip() != ""
