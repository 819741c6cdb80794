"""`backend.reading.allow`: which hosts and paths URL readers may fetch."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from backstage_common.config import Config

__all__ = ["ReadingAllowList"]


@dataclass(frozen=True, slots=True)
class _Rule:
    host: str
    paths: tuple[str, ...]

    def matches(self, host: str, path: str) -> bool:
        if self.host.startswith("*."):
            if not host.endswith(self.host[1:]):
                return False
        elif host != self.host:
            return False
        return not self.paths or any(path.startswith(prefix) for prefix in self.paths)


@dataclass(frozen=True, slots=True)
class ReadingAllowList:
    """Entries `{host, paths?}`; `host` may be `*.example.com` and carries the port when
    not the default one (`localhost:7007`); `paths` are path prefixes."""

    rules: tuple[_Rule, ...]

    @classmethod
    def from_config(cls, config: Config) -> ReadingAllowList:
        rules = []
        for entry in config.get_optional_config_array("backend.reading.allow") or []:
            host = entry.get_string("host").lower()
            paths = tuple(entry.get_optional_string_array("paths") or ())
            rules.append(_Rule(host, paths))
        return cls(tuple(rules))

    def allows(self, url: str) -> bool:
        """True for an http(s) URL whose host (and path) an entry admits."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        host = parts.hostname.lower()
        default_port = 443 if parts.scheme == "https" else 80
        if parts.port is not None and parts.port != default_port:
            host = f"{host}:{parts.port}"
        path = parts.path or "/"
        if ".." in path.split("/"):
            return False
        return any(rule.matches(host, path) for rule in self.rules)
