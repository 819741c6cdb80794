"""The catalog's OpenAPI document (`openapi.yaml` beside this module).

A committed document rather than one generated from the routes: the routes read Backstage's
query grammar (repeated `filter=` sets, `fields`, `orderField`, cursors) from the raw query
string, which no signature describes, and the document is the wire contract Backstage's
clients are written against, reviewed as such and compared with Backstage's own by a test.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml

__all__ = ["openapi_document"]


def openapi_document() -> dict[str, Any]:
    """The catalog's OpenAPI document, paths relative to `/api/catalog`."""
    text = files(__name__).joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.load(text, Loader=yaml.CSafeLoader)
    return document
