"""`backend.reading.allow`: which hosts and paths URL readers may fetch."""

from __future__ import annotations

from dataclasses import dataclass

from backstage_common.config import Config
from backstage_common.errors import InputError

from backstage_integration._fetch_urls import has_dot_dot_segment, parse_fetch_url

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
        """True for an http(s) URL whose host (and path) an entry admits: the host the
        fetcher connects to, never an ambiguous one, and a path that does not climb out
        of the admitted prefix (`..`, also percent-encoded)."""
        try:
            target = parse_fetch_url(url)
        except InputError:
            return False
        if has_dot_dot_segment(target.path):
            return False
        return any(rule.matches(target.authority, target.path) for rule in self.rules)
