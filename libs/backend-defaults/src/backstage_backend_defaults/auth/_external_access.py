"""`backend.auth.externalAccess`: static tokens for callers outside the backend."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from backstage_backend_plugin_api import RootConfigService
from backstage_common.errors import InputError

__all__ = ["StaticAccessEntry", "read_external_access"]


@dataclass(frozen=True)
class StaticAccessEntry:
    token: str
    subject: str
    plugins: tuple[str, ...] | None
    """The plugins this token may call; None means every plugin."""

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token.encode(), token.encode())


def read_external_access(config: RootConfigService) -> list[StaticAccessEntry]:
    """Read the `static` entries; other types come with the plugin key store."""
    entries: list[StaticAccessEntry] = []
    for index, entry in enumerate(
        config.get_optional_config_array("backend.auth.externalAccess") or []
    ):
        key = f"backend.auth.externalAccess[{index}]"
        kind = entry.get_string("type")
        if kind != "static":
            raise InputError(f"Unsupported external access type '{kind}' at {key}, use 'static'")
        token = entry.get_string("options.token")
        if len(token) < 8 or any(char.isspace() for char in token):
            raise InputError(
                f"Invalid token at {key}.options.token: it must be at least 8 characters "
                "and contain no whitespace"
            )
        restrictions = entry.get_optional_config_array("accessRestrictions")
        plugins = None
        if restrictions is not None:
            plugins = tuple(restriction.get_string("plugin") for restriction in restrictions)
            if len(set(plugins)) != len(plugins):
                raise InputError(f"Each plugin may appear once in {key}.accessRestrictions")
        entries.append(StaticAccessEntry(token, entry.get_string("options.subject"), plugins))
    return entries
