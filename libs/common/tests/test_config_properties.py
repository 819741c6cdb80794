"""Property tests for how sources merge and how numeric strings are read."""

from __future__ import annotations

import math

from backstage_common.config import Config, ConfigSource
from hypothesis import given, settings
from hypothesis import strategies as st

_KEYS = st.sampled_from(["a", "b", "c", "listen", "base-url", "x_y"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.lists(st.integers(), max_size=3)
)
_TREES = st.recursive(
    _SCALARS, lambda children: st.dictionaries(_KEYS, children, max_size=4), max_leaves=16
)
_OBJECTS = st.dictionaries(_KEYS, _TREES, max_size=4)


def _nest(path: list[str], value: object) -> dict[str, object]:
    result: object = value
    for part in reversed(path):
        result = {part: result}
    assert isinstance(result, dict)
    return result


def _merge(lower: object, higher: object) -> object:
    if isinstance(lower, dict) and isinstance(higher, dict):
        merged = dict(lower)
        for key, value in higher.items():
            merged[key] = _merge(lower.get(key), value) if key in lower else value
        return merged
    return higher


@settings(max_examples=60)
@given(_OBJECTS, st.lists(_KEYS, min_size=1, max_size=4), _SCALARS)
def test_a_later_scalar_always_wins(
    base: dict[str, object], path: list[str], value: object
) -> None:
    config = Config.from_sources(
        [ConfigSource(base, "base.yaml"), ConfigSource(_nest(path, value), "later.yaml")]
    )
    key = ".".join(path)
    assert config.get_optional(key) == value
    assert config.context_of(key) == "later.yaml"


@settings(max_examples=60)
@given(_OBJECTS, _OBJECTS)
def test_get_matches_a_recursive_merge(lower: dict[str, object], higher: dict[str, object]) -> None:
    config = Config.from_sources([ConfigSource(lower, "a.yaml"), ConfigSource(higher, "b.yaml")])
    assert config.get() == _merge(lower, higher)
    assert set(config.keys()) == set(lower) | set(higher)


@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_numeric_strings_read_as_the_number(number: float) -> None:
    config = Config.from_data({"value": f" {number!r} "})
    result = config.get_number("value")
    assert result == number
    assert isinstance(result, int) == isinstance(number, int)
    assert math.isfinite(result)
