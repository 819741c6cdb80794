"""Entity references: `[<kind>:][<namespace>/]<name>` strings and their compound form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backstage_common.errors import InputError

from ._constants import DEFAULT_NAMESPACE

__all__ = [
    "CompoundEntityRef",
    "get_compound_entity_ref",
    "normalize_entity_ref_key",
    "parse_entity_ref",
    "stringify_entity_ref",
]


@dataclass(frozen=True, slots=True)
class CompoundEntityRef:
    """The three parts that identify an entity, in the case they were written."""

    kind: str
    namespace: str
    name: str


def parse_entity_ref(
    ref: str | Mapping[str, Any],
    *,
    default_kind: str | None = None,
    default_namespace: str | None = None,
) -> CompoundEntityRef:
    """Parses a ref string (or a `{kind, namespace, name}` mapping) into its three parts.

    A part the ref leaves out takes the default given; a missing namespace falls back to
    `"default"`. A missing kind without `default_kind` is an error. Case is kept as written.
    """
    kind: Any
    namespace: Any
    name: Any
    if isinstance(ref, str):
        if not ref:
            raise InputError("Entity reference must not be empty")
        kind, namespace, name = _split_ref(ref)
    elif isinstance(ref, Mapping):
        kind = ref.get("kind")
        namespace = ref.get("namespace")
        name = ref.get("name")
    else:
        raise InputError(
            f"Entity reference must be a string or an object, got {type(ref).__name__}"
        )
    kind = default_kind if kind is None else kind
    namespace = (default_namespace or DEFAULT_NAMESPACE) if namespace is None else namespace
    if not isinstance(kind, str) or not kind:
        raise InputError(
            f"Entity reference {_show(ref)} had missing or empty kind "
            '(e.g. did not start with "component:" or similar)'
        )
    if not isinstance(namespace, str) or not namespace:
        raise InputError(f"Entity reference {_show(ref)} had missing or empty namespace")
    if not isinstance(name, str) or not name:
        raise InputError(f"Entity reference {_show(ref)} had missing or empty name")
    return CompoundEntityRef(kind=kind, namespace=namespace, name=name)


def _split_ref(ref: str) -> tuple[str | None, str | None, str]:
    """Splits at the first `:` and the first `/`; a `/` before the `:` means there is no kind."""
    colon = ref.find(":")
    slash = ref.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    kind = ref[:colon] if colon != -1 else None
    namespace = ref[colon + 1 : slash] if slash != -1 else None
    name = ref[max(colon, slash) + 1 :]
    if kind == "" or namespace == "" or name == "":
        raise InputError(
            f'Entity reference "{ref}" was not on the form [<kind>:][<namespace>/]<name>'
        )
    return kind, namespace, name


def _show(ref: str | Mapping[str, Any]) -> str:
    try:
        return json.dumps(ref if isinstance(ref, str) else dict(ref), sort_keys=True)
    except (TypeError, ValueError):
        return repr(ref)


def stringify_entity_ref(ref: CompoundEntityRef | Mapping[str, Any]) -> str:
    """The canonical, lowercased `kind:namespace/name` of a compound ref, ref mapping or entity."""
    kind: Any
    namespace: Any
    name: Any
    if isinstance(ref, CompoundEntityRef):
        kind, namespace, name = ref.kind, ref.namespace, ref.name
    elif "metadata" in ref:
        metadata = ref["metadata"]
        kind = ref.get("kind")
        namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
    else:
        kind, namespace, name = ref.get("kind"), ref.get("namespace"), ref.get("name")
    if namespace is None:
        namespace = DEFAULT_NAMESPACE
    if not isinstance(kind, str) or not isinstance(namespace, str) or not isinstance(name, str):
        raise InputError(f"Cannot make an entity reference of {_show(_as_mapping(ref))}")
    return f"{kind.lower()}:{namespace.lower()}/{name.lower()}"


def _as_mapping(ref: CompoundEntityRef | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(ref, CompoundEntityRef):
        return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}
    return ref


def get_compound_entity_ref(entity: Mapping[str, Any]) -> CompoundEntityRef:
    """The ref of an entity; an absent or empty namespace is `"default"`."""
    metadata = entity.get("metadata")
    kind = entity.get("kind")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    if not isinstance(kind, str) or not kind or not isinstance(name, str) or not name:
        raise InputError("Entity must have a kind and a metadata.name to be referenced")
    if not isinstance(namespace, str) or not namespace:
        namespace = DEFAULT_NAMESPACE
    return CompoundEntityRef(kind=kind, namespace=namespace, name=name)


def normalize_entity_ref_key(ref: str) -> str:
    """The lowercased `kind:namespace/name` a full ref is stored and compared under.

    The ref must name its kind; a missing namespace is `"default"`.
    """
    return stringify_entity_ref(parse_entity_ref(ref))
