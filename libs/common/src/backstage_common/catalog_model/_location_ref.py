"""Location references: `<type>:<target>`, for example `url:https://host/catalog-info.yaml`."""

from __future__ import annotations

import re
from typing import Final

from backstage_common.errors import InputError

__all__ = ["parse_location_ref", "stringify_location_ref"]

# `javascript:` with any control characters or spaces before it, and tabs or line breaks
# anywhere inside it, as browsers read it.
_SCRIPT_PROTOCOL: Final = re.compile(
    r"^[\x00-\x1f ]*" + r"[\r\n\t]*".join("javascript") + r"[\r\n\t]*:", re.IGNORECASE
)


def parse_location_ref(ref: str) -> tuple[str, str]:
    """Splits a location ref at its first `:` into `(type, target)`, both trimmed and non-empty."""
    if not isinstance(ref, str):
        raise InputError(f"Unable to parse location ref '{ref}', unexpected argument {type(ref)}")
    type_, separator, target = ref.partition(":")
    type_, target = type_.strip(), target.strip()
    if not separator or not type_ or not target:
        raise InputError(
            f"Unable to parse location ref '{ref}', expected '<type>:<target>', "
            "e.g. 'url:https://host/path'"
        )
    if type_ in ("http", "https"):
        raise InputError(
            f"Invalid location ref '{ref}', please prefix it with 'url:', e.g. 'url:{ref}'"
        )
    if _SCRIPT_PROTOCOL.match(target):
        raise InputError(f"Invalid location ref '{ref}', target is a javascript: URL")
    return type_, target


def stringify_location_ref(type: str, target: str) -> str:
    """Joins a location type and target into `<type>:<target>`."""
    if not type:
        raise InputError("Unable to stringify location ref, empty type")
    if not target:
        raise InputError("Unable to stringify location ref, empty target")
    if _SCRIPT_PROTOCOL.match(target):
        raise InputError(f"Invalid location ref '{type}:{target}', target is a javascript: URL")
    return f"{type}:{target}"
