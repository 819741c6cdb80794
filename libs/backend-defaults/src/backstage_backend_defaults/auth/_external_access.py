"""`backend.auth.externalAccess`: tokens for callers outside the backend.

- `static`: `{token, subject}`, sent as `Authorization: Bearer <token>`;
- `legacy`: `{secret (base64), subject}`, HS256 JWTs with `sub: backstage-server`, an
  `exp` at most an hour ahead (and after `iat`, if any) and no `aud`, signed with the
  shared secret (the deprecated `backend.auth.keys:
  [{secret}]` is the same with subject `external:backstage-plugin`).

Each entry may carry `accessRestrictions: [{plugin, permission?, permissionAttribute?:
{action?}}]`: the token then works against the listed plugins only.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta

import jwt
from backstage_backend_plugin_api import AccessRestrictions, RootConfigService
from backstage_common.config import Config
from backstage_common.errors import AuthenticationError, InputError

from backstage_backend_defaults.auth._claims import check_claims

__all__ = ["ExternalAccessEntry", "ExternalTokens", "read_external_access"]

_NO_SPACE = re.compile(r"^\S+$")
_RESTRICTION_KEYS = {"plugin", "permission", "permissionAttribute"}
LEGACY_TOKEN_LIFETIME = timedelta(hours=1)
"""Longest a legacy token may be valid for: Backstage's server tokens lived an hour."""


@dataclass(frozen=True)
class ExternalAccessEntry:
    subject: str
    restrictions: dict[str, AccessRestrictions | None] | None
    """Per allowed plugin, its permission restrictions; None means every plugin."""
    token: str | None = None
    """A `static` entry's token."""
    secret: bytes | None = None
    """A `legacy` entry's HS256 key."""

    def matches_static(self, token: str) -> bool:
        return self.token is not None and hmac.compare_digest(self.token.encode(), token.encode())


def _string_list(config: Config, key: str) -> tuple[str, ...] | None:
    value = config.get_optional(key)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(config.get_string_array(key))


def _read_restrictions(entry: Config, key: str) -> dict[str, AccessRestrictions | None] | None:
    restrictions = entry.get_optional_config_array("accessRestrictions")
    if restrictions is None:
        return None
    result: dict[str, AccessRestrictions | None] = {}
    for index, restriction in enumerate(restrictions):
        where = f"{key}.accessRestrictions[{index}]"
        unknown = set(restriction.keys()) - _RESTRICTION_KEYS
        if unknown:
            raise InputError(f"Unknown key(s) {', '.join(sorted(unknown))} in {where}")
        plugin = restriction.get_string("plugin")
        if plugin in result:
            raise InputError(f"Each plugin may appear once in {key}.accessRestrictions")
        names = _string_list(restriction, "permission")
        actions = _string_list(restriction, "permissionAttribute.action")
        result[plugin] = (
            None
            if names is None and actions is None
            else AccessRestrictions(
                permission_names=names,
                permission_attributes=None if actions is None else {"action": actions},
            )
        )
    return result


def _decode_secret(secret: str, key: str) -> bytes:
    if not _NO_SPACE.match(secret):
        raise InputError(f"Illegal secret at {key}, must be a valid base64 string")
    normalized = secret.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"Illegal secret at {key}, must be a valid base64 string") from None


def _static_entry(entry: Config, key: str) -> ExternalAccessEntry:
    token = entry.get_string("options.token")
    if len(token) < 8 or not _NO_SPACE.match(token):
        raise InputError(
            f"Invalid token at {key}.options.token: it must be at least 8 characters "
            "and contain no whitespace"
        )
    return ExternalAccessEntry(_subject(entry, key), _read_restrictions(entry, key), token=token)


def _subject(entry: Config, key: str) -> str:
    subject = entry.get_string("options.subject")
    if not _NO_SPACE.match(subject):
        raise InputError(f"Illegal subject at {key}.options.subject, it must have no spaces")
    return subject


def read_external_access(config: RootConfigService) -> list[ExternalAccessEntry]:
    entries: list[ExternalAccessEntry] = []
    for index, entry in enumerate(
        config.get_optional_config_array("backend.auth.externalAccess") or []
    ):
        key = f"backend.auth.externalAccess[{index}]"
        kind = entry.get_string("type")
        if kind == "static":
            entries.append(_static_entry(entry, key))
        elif kind == "legacy":
            secret = _decode_secret(entry.get_string("options.secret"), f"{key}.options.secret")
            entries.append(
                ExternalAccessEntry(
                    _subject(entry, key), _read_restrictions(entry, key), secret=secret
                )
            )
        else:
            raise InputError(
                f"Unsupported external access type '{kind}' at {key}, use 'static' or 'legacy'"
            )
    for index, old in enumerate(config.get_optional_config_array("backend.auth.keys") or []):
        key = f"backend.auth.keys[{index}].secret"
        secret = _decode_secret(old.get_string("secret"), key)
        entries.append(ExternalAccessEntry("external:backstage-plugin", None, secret=secret))
    legacy = [entry.secret for entry in entries if entry.secret is not None]
    if len(set(legacy)) != len(legacy):
        raise InputError("A legacy externalAccess secret was declared more than once")
    return entries


class ExternalTokens:
    """Verifies external callers' tokens against the configured entries."""

    def __init__(self, entries: list[ExternalAccessEntry]) -> None:
        self._static = [entry for entry in entries if entry.token is not None]
        self._legacy = [entry for entry in entries if entry.secret is not None]

    def find_static(self, token: str) -> ExternalAccessEntry | None:
        for entry in self._static:
            if entry.matches_static(token):
                return entry
        return None

    def verify(self, token: str) -> ExternalAccessEntry | None:
        """The entry the token belongs to; None when it is none of these tokens."""
        found = self.find_static(token)
        if found is not None or not self._legacy:
            return found
        return self._verify_legacy(token)

    def _verify_legacy(self, token: str) -> ExternalAccessEntry | None:
        try:  # only HS256 tokens shaped like legacy ones are tried against the secrets
            if jwt.get_unverified_header(token).get("alg") != "HS256":
                return None
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        if claims.get("sub") != "backstage-server" or "aud" in claims:
            return None
        for entry in self._legacy:
            assert entry.secret is not None
            try:
                claims = jwt.decode(
                    token,
                    entry.secret,
                    algorithms=["HS256"],
                    options={"require": ["exp"], "verify_iat": False},
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise AuthenticationError("Invalid legacy token") from None
            check_claims(
                claims, kind="legacy", max_lifetime=LEGACY_TOKEN_LIFETIME, require_iat=False
            )
            return entry
        return None
