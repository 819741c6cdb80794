"""The catalog's tables, shared by the processing engine, the stitcher and the REST API.

Entities are kept as JSON text so that reads can hand them to the client verbatim. Every
entity reference used as a key is the lowercased `kind:namespace/name`. The migrations in
`migrations/versions` create exactly these tables (a test compares them).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "final_entities",
    "locations",
    "metadata",
    "refresh_keys",
    "refresh_state",
    "refresh_state_references",
    "relations",
    "search",
    "stitch_queue",
]

metadata = sa.MetaData()

_Timestamp = sa.DateTime(timezone=True)
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

refresh_state = sa.Table(
    "refresh_state",
    metadata,
    sa.Column("entity_id", sa.Text, primary_key=True),
    sa.Column("entity_ref", sa.Text, nullable=False, unique=True),
    sa.Column("unprocessed_entity", sa.Text, nullable=False),
    sa.Column("unprocessed_hash", sa.Text),
    sa.Column("processed_entity", sa.Text),
    sa.Column("result_hash", sa.Text),
    sa.Column("cache", sa.Text),
    sa.Column("errors", sa.Text, nullable=False, server_default=""),
    sa.Column("next_update_at", _Timestamp, nullable=False, index=True),
    sa.Column("last_discovery_at", _Timestamp, nullable=False),
    sa.Column("location_key", sa.Text),
)

refresh_state_references = sa.Table(
    "refresh_state_references",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("source_key", sa.Text, index=True),
    sa.Column(
        "source_entity_ref",
        sa.Text,
        sa.ForeignKey("refresh_state.entity_ref", ondelete="CASCADE"),
        index=True,
    ),
    sa.Column(
        "target_entity_ref",
        sa.Text,
        sa.ForeignKey("refresh_state.entity_ref", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

relations = sa.Table(
    "relations",
    metadata,
    sa.Column(
        "originating_entity_id",
        sa.Text,
        sa.ForeignKey("refresh_state.entity_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("source_entity_ref", sa.Text, nullable=False, index=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("target_entity_ref", sa.Text, nullable=False, index=True),
)

final_entities = sa.Table(
    "final_entities",
    metadata,
    sa.Column(
        "entity_id",
        sa.Text,
        sa.ForeignKey("refresh_state.entity_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("entity_ref", sa.Text, nullable=False, unique=True),
    sa.Column("hash", sa.Text, nullable=False),
    sa.Column("final_entity", sa.Text),
    sa.Column("last_updated_at", _Timestamp),
)

search = sa.Table(
    "search",
    metadata,
    sa.Column(
        "entity_id",
        sa.Text,
        sa.ForeignKey("final_entities.entity_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("value", sa.Text),
    sa.Column("original_value", sa.Text),
    sa.Index("search_key_value_entity_idx", "key", "value", "entity_id"),
    sa.Index("search_key_original_value_entity_idx", "key", "original_value", "entity_id"),
    # EXISTS probes and sort values look up one entity's rows for a key.
    sa.Index("search_entity_key_value_idx", "entity_id", "key", "value"),
)


refresh_keys = sa.Table(
    "refresh_keys",
    metadata,
    sa.Column(
        "entity_id",
        sa.Text,
        sa.ForeignKey("refresh_state.entity_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("key", sa.Text, nullable=False, index=True),
)

locations = sa.Table(
    "locations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("location_entity_ref", sa.Text, nullable=False),
    sa.UniqueConstraint("type", "target", name="locations_type_target_key"),
)

stitch_queue = sa.Table(
    "stitch_queue",
    metadata,
    sa.Column("entity_ref", sa.Text, primary_key=True),
    sa.Column("stitch_ticket", sa.Text, nullable=False),
    sa.Column("next_stitch_at", _Timestamp, nullable=False, index=True),
)
