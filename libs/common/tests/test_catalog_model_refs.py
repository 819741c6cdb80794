"""Entity refs and location refs: Backstage's grammar, defaults, canonical form and errors."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.catalog_model import (
    DEFAULT_NAMESPACE,
    CompoundEntityRef,
    get_compound_entity_ref,
    normalize_entity_ref_key,
    parse_entity_ref,
    parse_location_ref,
    stringify_entity_ref,
    stringify_location_ref,
)
from backstage_common.errors import InputError
from hypothesis import given
from hypothesis import strategies as st


def ref(kind: str, namespace: str, name: str) -> CompoundEntityRef:
    return CompoundEntityRef(kind=kind, namespace=namespace, name=name)


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("component:prod/checkout", {}, ref("component", "prod", "checkout")),
        ("Component:Prod/Checkout", {}, ref("Component", "Prod", "Checkout")),
        ("component:checkout", {}, ref("component", "default", "checkout")),
        ("checkout", {"default_kind": "Group"}, ref("Group", "default", "checkout")),
        ("prod/checkout", {"default_kind": "Group"}, ref("Group", "prod", "checkout")),
        (
            "checkout",
            {"default_kind": "User", "default_namespace": "people"},
            ref("User", "people", "checkout"),
        ),
        ("user:jane", {"default_kind": "Group"}, ref("user", "default", "jane")),
        ("a:b/c", {"default_kind": "X", "default_namespace": "y"}, ref("a", "b", "c")),
        ("component:default/a:b", {}, ref("component", "default", "a:b")),
        ("component:default/a/b", {}, ref("component", "default", "a/b")),
        ("ns/a:b", {"default_kind": "K"}, ref("K", "ns", "a:b")),
        (
            "checkout",
            {"default_kind": "Group", "default_namespace": ""},
            ref("Group", "default", "checkout"),
        ),
    ],
)
def test_parse_entity_ref(text: str, options: dict[str, str], expected: CompoundEntityRef) -> None:
    assert parse_entity_ref(text, **options) == expected


def test_parse_entity_ref_from_a_mapping_takes_defaults_for_missing_parts() -> None:
    assert parse_entity_ref({"kind": "API", "name": "x"}) == ref("API", "default", "x")
    assert parse_entity_ref({"name": "x", "namespace": "ns"}, default_kind="Group") == ref(
        "Group", "ns", "x"
    )


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        ("", {}, "must not be empty"),
        ("checkout", {}, "had missing or empty kind"),
        ("default/checkout", {}, "had missing or empty kind"),
        (":checkout", {}, "was not on the form [<kind>:][<namespace>/]<name>"),
        ("component:/checkout", {}, "was not on the form"),
        ("component:default/", {}, "was not on the form"),
        ("/checkout", {"default_kind": "Group"}, "was not on the form"),
        ("component:", {}, "was not on the form"),
        ({"name": "x"}, {}, "had missing or empty kind"),
        ({"kind": "API", "namespace": "", "name": "x"}, {}, "had missing or empty namespace"),
        ({"kind": "API"}, {}, "had missing or empty name"),
        ({"kind": "API", "name": 3}, {}, "had missing or empty name"),
        (42, {}, "must be a string or an object"),
    ],
)
def test_parse_entity_ref_rejects_malformed_refs(value: Any, options: Any, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        parse_entity_ref(value, **options)


def test_stringify_lowercases_every_part_and_defaults_the_namespace() -> None:
    assert stringify_entity_ref(ref("Component", "Prod", "Checkout")) == "component:prod/checkout"
    assert stringify_entity_ref({"kind": "API", "name": "Pets"}) == "api:default/pets"
    entity = {"kind": "Group", "metadata": {"name": "Team-A", "namespace": "Org"}}
    assert stringify_entity_ref(entity) == "group:org/team-a"
    assert stringify_entity_ref({"kind": "User", "metadata": {"name": "jane"}}) == (
        "user:default/jane"
    )


def test_stringify_refuses_a_ref_without_kind_or_name() -> None:
    with pytest.raises(InputError):
        stringify_entity_ref({"name": "x"})
    with pytest.raises(InputError):
        stringify_entity_ref({"kind": "Component", "metadata": {}})


def test_compound_ref_of_an_entity_keeps_case_and_defaults_an_empty_namespace() -> None:
    entity = {"kind": "Component", "metadata": {"name": "Checkout", "namespace": ""}}
    assert get_compound_entity_ref(entity) == ref("Component", DEFAULT_NAMESPACE, "Checkout")
    entity["metadata"]["namespace"] = "Shop"
    assert get_compound_entity_ref(entity) == ref("Component", "Shop", "Checkout")
    with pytest.raises(InputError):
        get_compound_entity_ref({"kind": "Component", "metadata": {}})


def test_compound_refs_are_immutable_and_hashable() -> None:
    one = ref("Component", "default", "x")
    assert {one, ref("Component", "default", "x")} == {one}
    with pytest.raises(AttributeError):
        one.name = "y"  # type: ignore[misc]


def test_normalized_key_is_case_insensitive_identity() -> None:
    assert normalize_entity_ref_key("Component:Default/Checkout") == "component:default/checkout"
    assert normalize_entity_ref_key("component:checkout") == "component:default/checkout"
    assert normalize_entity_ref_key("API:Shop/Pets") == normalize_entity_ref_key("api:shop/PETS")
    with pytest.raises(InputError):
        normalize_entity_ref_key("checkout")


kinds = st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,20}", fullmatch=True)
namespaces = st.from_regex(r"[a-z0-9]+(-[a-z0-9]+){0,3}", fullmatch=True)
names = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.:/]{0,30}[A-Za-z0-9])?", fullmatch=True)


@given(kind=kinds, namespace=namespaces, name=names)
def test_full_refs_round_trip(kind: str, namespace: str, name: str) -> None:
    parsed = parse_entity_ref(f"{kind}:{namespace}/{name}")
    assert parsed == ref(kind, namespace, name)
    text = stringify_entity_ref(parsed)
    assert text == f"{kind}:{namespace}/{name}".lower()
    assert parse_entity_ref(text) == ref(kind.lower(), namespace.lower(), name.lower())
    assert normalize_entity_ref_key(text) == text


@given(
    kind=kinds,
    namespace=namespaces,
    name=st.from_regex(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,20}", fullmatch=True),
)
def test_short_refs_take_the_defaults(kind: str, namespace: str, name: str) -> None:
    assert parse_entity_ref(name, default_kind=kind) == ref(kind, "default", name)
    assert parse_entity_ref(f"{namespace}/{name}", default_kind=kind) == ref(kind, namespace, name)
    assert parse_entity_ref(
        f"{kind}:{name}", default_kind="Other", default_namespace=namespace
    ) == ref(kind, namespace, name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("url:https://host/catalog-info.yaml", ("url", "https://host/catalog-info.yaml")),
        ("file:/srv/catalog.yaml", ("file", "/srv/catalog.yaml")),
        (" url : https://a:8080/x ", ("url", "https://a:8080/x")),
        ("bitbucket:https://b/c", ("bitbucket", "https://b/c")),
    ],
)
def test_parse_location_ref(text: str, expected: tuple[str, str]) -> None:
    assert parse_location_ref(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected '<type>:<target>'"),
        ("no-colon", "expected '<type>:<target>'"),
        ("url:", "expected '<type>:<target>'"),
        (":https://a", "expected '<type>:<target>'"),
        ("https://host/x.yaml", "please prefix it with 'url:'"),
        ("http://host/x.yaml", "please prefix it with 'url:'"),
        ("url:javascript:alert(1)", "javascript: URL"),
        ("url: \x01Java\tScript:alert(1)", "javascript: URL"),
    ],
)
def test_parse_location_ref_rejects_bad_refs(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_location_ref(text)


def test_stringify_location_ref() -> None:
    assert stringify_location_ref("url", "https://a/b.yaml") == "url:https://a/b.yaml"
    assert parse_location_ref(stringify_location_ref("file", "/x.yaml")) == ("file", "/x.yaml")
    for type_, target in (("", "x"), ("url", ""), ("url", "javascript:alert(1)")):
        with pytest.raises(InputError):
            stringify_location_ref(type_, target)
