"""Location analysis: what `POST /analyze-location` suggests for a repository URL."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["LocationAnalyzer"]


class LocationAnalyzer(Protocol):
    async def analyze_location(
        self, location: dict[str, Any], catalog_filename: str | None
    ) -> dict[str, Any]:
        """`{existingEntityFiles: [...], generateEntities: [...]}` for `location`
        (`{type, target}`), as `POST /analyze-location` returns it."""
        ...
