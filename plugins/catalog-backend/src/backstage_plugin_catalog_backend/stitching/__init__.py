"""Stitching processed entities into the final entities the API serves."""

from backstage_plugin_catalog_common import (
    MAX_KEY_LENGTH,
    MAX_VALUE_LENGTH,
    SearchRow,
    search_rows,
)

from backstage_plugin_catalog_backend.stitching._stitcher import (
    BATCH_SIZE,
    build_final_entity,
    entity_hash,
    stitch_entities,
)

__all__ = [
    "BATCH_SIZE",
    "MAX_KEY_LENGTH",
    "MAX_VALUE_LENGTH",
    "SearchRow",
    "build_final_entity",
    "entity_hash",
    "search_rows",
    "stitch_entities",
]
