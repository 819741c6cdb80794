"""Claim checks PyJWT does not make: strict types and a maximum lifetime.

PyJWT verifies the signature and expiry, but reads `exp` and `iat` through `int()` (so
`"9999999999"` passes), accepts an audience list where one string is expected, and puts no
bound on how long a token lives. A token that a leaked or misused key signed for a year is
refused here, as is every claim of the wrong type.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from backstage_common.errors import AuthenticationError

__all__ = ["CLOCK_SKEW", "check_claims", "is_numeric_date"]

CLOCK_SKEW = timedelta(seconds=60)
"""How far in the future `iat` may be: clocks of different hosts disagree a little."""


def is_numeric_date(value: Any) -> bool:
    """A JWT NumericDate: a finite JSON number (never a string, a boolean or null)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _type_problem(
    claims: Mapping[str, Any], strings: tuple[str, ...], string_lists: tuple[str, ...]
) -> str | None:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        return "sub must be a non-empty string"
    if not is_numeric_date(claims.get("exp")):
        return "exp must be a number"
    for name in ("iat", "nbf"):
        if name in claims and not is_numeric_date(claims[name]):
            return f"{name} must be a number"
    for name in strings:
        if name in claims and not isinstance(claims[name], str):
            return f"{name} must be a string"
    for name in string_lists:
        value = claims.get(name)
        if name in claims and (
            not isinstance(value, list) or not all(isinstance(item, str) for item in value)
        ):
            return f"{name} must be a list of strings"
    return None


def _lifetime_problem(
    claims: Mapping[str, Any], max_lifetime: timedelta, require_iat: bool, now: float
) -> str | None:
    exp, iat = claims["exp"], claims.get("iat")
    limit = max_lifetime.total_seconds()
    skew = CLOCK_SKEW.total_seconds()
    too_long = f"it lives longer than the {int(limit)} seconds allowed"
    if iat is None:
        if require_iat:
            return "iat is missing"
    elif iat > now + skew:
        return "it was issued in the future"
    elif exp - iat > limit:
        return too_long
    if exp - now > limit + skew:
        return too_long
    return None


def check_claims(
    claims: Mapping[str, Any],
    *,
    kind: str,
    max_lifetime: timedelta,
    require_iat: bool = True,
    strings: tuple[str, ...] = (),
    string_lists: tuple[str, ...] = (),
    now: float | None = None,
) -> None:
    """Raise `AuthenticationError` ("Invalid <kind> token: ...") unless `sub` is a non-empty
    string, `exp` (and `iat` when required; `nbf` when present) are numbers, `iat` is not
    later than `CLOCK_SKEW` from now, the token lives at most `max_lifetime` (from `iat`,
    and from now), the claims named in `strings` are strings and those in `string_lists`
    lists of strings, when present."""
    problem = _type_problem(claims, strings, string_lists) or _lifetime_problem(
        claims, max_lifetime, require_iat, time.time() if now is None else now
    )
    if problem is not None:
        raise AuthenticationError(f"Invalid {kind} token: {problem}")
