"""The search plugin's OpenAPI document (`openapi.json` beside this module).

A committed document rather than one generated from the route: `GET /query` reads its
parameters in `qs`'s bracket forms (`types[0]=`, `filters[kind][0]=`) from the raw query
string, which no signature describes, and the document is the wire contract Backstage's
search client is written against, compared with Backstage's own by a test. Its paths,
methods and parameters are Backstage's; paths are relative to the plugin's mount path.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import msgspec

__all__ = ["openapi_document"]


def openapi_document() -> dict[str, Any]:
    """The search plugin's OpenAPI document, paths relative to `/api/search`."""
    data = files(__name__).joinpath("openapi.json").read_bytes()
    document: dict[str, Any] = msgspec.json.decode(data)
    return document
