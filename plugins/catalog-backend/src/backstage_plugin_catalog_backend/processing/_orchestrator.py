"""Processing one entity: every processor's hooks in order, in memory, no I/O of its own.

The result is either the completed entity with what it emitted (children, relations,
refresh keys) or the errors that stopped it; emitted errors count as failure too, so a
location that could not be read keeps its previous children.

For the processing loop (`process_claimed`), a Location entity whose definition and read
versions are those that gave its stored result stops after its reads: it would give that
result again (see `_unchanged`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from backstage_common.catalog_model import (
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    validate_entity,
)
from backstage_common.errors import ConflictError, InputError, NotAllowedError
from backstage_plugin_catalog_node import (
    CatalogProcessor,
    EntityKindValidator,
    EntityPostProcessor,
    EntityPreProcessor,
    EntityRelationSpec,
    EntityResult,
    ErrorResult,
    LocationReader,
    LocationResult,
    LocationSpec,
    ProcessingResult,
    RefreshResult,
    RelationResult,
)

from backstage_plugin_catalog_backend.processing._entities import (
    copy_entity,
    entity_location,
    entity_ref,
    join_url,
    location_entity,
    serialize_error,
    stable_hash,
)
from backstage_plugin_catalog_backend.processing._permit import Permit
from backstage_plugin_catalog_backend.processing._rules import CatalogRules
from backstage_plugin_catalog_backend.processing._store import Conflict
from backstage_plugin_catalog_backend.processing._unchanged import UnchangedInputs
from backstage_plugin_catalog_backend.processing._url_locations import KnownRead
from backstage_plugin_catalog_backend.readers import parse_entity_yaml

__all__ = ["Child", "Orchestrator", "ProcessingOutcome", "result_digest"]


@dataclass(frozen=True, slots=True)
class Child:
    ref: str
    entity: dict[str, Any]
    location_key: str


@dataclass(slots=True)
class ProcessingOutcome:
    ok: bool
    entity: dict[str, Any]
    children: list[Child] = field(default_factory=list)
    relations: list[EntityRelationSpec] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    refresh_keys: list[str] = field(default_factory=list)
    valid: bool = False
    duplicates: list[Conflict] = field(default_factory=list)
    """Children emitted again from another location key (the first one is kept)."""
    """The entity itself passed validation (errors, if any, came from what it read)."""


class _Unchanged(Exception):
    """Raised by a run whose inputs gave the stored result: it stops there."""


def result_digest(outcome: ProcessingOutcome) -> str:
    """The hash of everything a processing result writes (equal hashes: nothing to write).

    Args:
        outcome: the processing result.
    """
    return stable_hash(
        {
            "ok": outcome.ok,
            "errors": outcome.errors,
            "entity": outcome.entity,
            "children": [[c.ref, c.entity, c.location_key] for c in outcome.children],
            "duplicates": [d.message for d in outcome.duplicates],
            "relations": sorted([r.source, r.type, r.target] for r in outcome.relations),
            "refresh": outcome.refresh_keys,
        }
    )


def _check_envelope(entity: Mapping[str, Any]) -> None:
    metadata = entity.get("metadata")
    if (
        not isinstance(entity.get("apiVersion"), str)
        or not isinstance(entity.get("kind"), str)
        or not isinstance(metadata, Mapping)
        or not isinstance(metadata.get("name"), str)
    ):
        raise InputError(
            "Malformed entity envelope, apiVersion, kind and metadata.name must be strings"
        )


def _prior_reads(prior: Mapping[str, Any] | None) -> dict[str, str]:
    """The ETag of each target the prior processing read (none when not recorded)."""
    reads = prior.get("reads") if prior is not None else None
    if not isinstance(reads, list):
        return {}
    return {
        read[0]: read[1]
        for read in reads
        if isinstance(read, list) and len(read) == 2 and all(isinstance(r, str) for r in read)
    }


def _resolve(base: LocationSpec, type_: str, target: str) -> str:
    if type_ == "url" and base.type == "url":
        return join_url(base.target, target)
    if type_ == "file" and base.type == "file" and not os.path.isabs(target):
        return os.path.normpath(os.path.join(os.path.dirname(base.target), target))
    return target


class _Collector:
    def __init__(
        self, location: LocationSpec, origin: LocationSpec, self_ref: str, permit: Permit
    ) -> None:
        self.location = location
        self.permit = permit
        """Taken before anything but the reads of a Location entity that may be unchanged."""
        self.origin = origin
        self.self_ref = self_ref
        self.children: dict[str, Child] = {}
        self.duplicates: list[Conflict] = []
        self.relations: list[EntityRelationSpec] = []
        self.errors: list[BaseException] = []
        self.refresh_keys: list[str] = []
        self.validated = False
        self.reads: list[tuple[str, str | None]] = []
        """Each target read, with the version of what it gave (None: unknown)."""
        self.definition: str | None = None
        """The hash of the entity's definition, for a Location entity that may be unchanged."""
        self.prior: dict[str, Any] | None = None
        """The record of the processing that gave the stored result from this definition."""
        self.inputs: str | None = None
        """The hash of the definition and the reads, when known."""
        self.unemitted: list[tuple[LocationSpec, bool]] = []
        """Targets (and whether optional) found not modified since the ETag the prior
        processing read, whose kept entities were not emitted."""

    def emit(self, result: ProcessingResult) -> None:
        if isinstance(result, EntityResult):
            self._entity(result.entity, result.location, result.location_key)
        elif isinstance(result, LocationResult):
            entity = location_entity(
                result.location, own=str(self.location), origin=str(self.origin)
            )
            self._entity(entity, self.location, str(result.location))
        elif isinstance(result, RelationResult):
            self.relations.append(result.relation)
        elif isinstance(result, ErrorResult):
            self.errors.append(result.error)
        elif isinstance(result, RefreshResult):
            self.refresh_keys.append(result.key)

    def _entity(self, given: Mapping[str, Any], location: LocationSpec, key: str | None) -> None:
        try:
            _check_envelope(given)
            entity = copy_entity(given)
            ref = entity_ref(entity)
        except InputError as error:
            self.errors.append(error)
            return
        if ref == self.self_ref:
            return
        annotations = dict(entity["metadata"].get("annotations") or {})
        annotations[ANNOTATION_LOCATION] = str(location)
        annotations[ANNOTATION_ORIGIN_LOCATION] = str(self.origin)
        entity["metadata"]["annotations"] = annotations
        child = Child(ref, entity, key or str(location))
        first = self.children.get(ref)
        if first is None:
            self.children[ref] = child
        elif first.location_key != child.location_key:
            self.duplicates.append(Conflict(ref, first.location_key, child.location_key))


class Orchestrator:
    """Runs `processors` over one entity at a time and checks what it emits against the
    catalog rules."""

    def __init__(
        self,
        processors: Sequence[CatalogProcessor],
        rules: CatalogRules,
        *,
        cross_types: Sequence[str] = ("url",),
    ) -> None:
        """`cross_types`: location types a Location entity may read besides its own."""
        self._rules = rules
        self._cross_types = tuple(cross_types)
        # which hooks each processor has, worked out once
        self._pre = [p for p in processors if isinstance(p, EntityPreProcessor)]
        self._validators = [p for p in processors if isinstance(p, EntityKindValidator)]
        self._readers = [p for p in processors if isinstance(p, LocationReader)]
        self._post = [p for p in processors if isinstance(p, EntityPostProcessor)]
        self._unchanged = UnchangedInputs.of(processors, rules)

    async def process(self, unprocessed: Mapping[str, Any]) -> ProcessingOutcome:
        """Process `unprocessed` to the end.

        Args:
            unprocessed: the entity as stored, before processing.
        """
        outcome, _ = await self._process(unprocessed, None, Permit(None))
        return outcome

    async def process_claimed(
        self,
        unprocessed: Mapping[str, Any],
        stored_hash: str | None,
        permit: Permit | None = None,
    ) -> tuple[ProcessingOutcome, str] | None:
        """Process an entity the loop claimed: its result and that result's digest, or
        None when its inputs are those that gave `stored_hash` (nothing to write).

        Args:
            unprocessed: the entity as stored, before processing.
            stored_hash: the digest of its stored result (None: none, or to be retried).
            permit: its place under the bound on entities processed at once, taken for
                all of its processing but the reads of a Location entity that may be
                unchanged (None: no bound).
        """
        permit = permit or Permit(None)
        try:
            outcome, collector = await self._process(unprocessed, stored_hash, permit)
        except _Unchanged:
            return None
        finally:
            permit.release()
        digest = result_digest(outcome)
        if (
            self._unchanged is not None
            and collector is not None
            and collector.definition is not None
            and collector.inputs is not None
            and outcome.ok
            and not outcome.duplicates
        ):
            reads = [(target, version or "") for target, version in collector.reads]
            await self._unchanged.reader.remember(
                collector.self_ref, collector.definition, collector.inputs, digest, reads
            )
        return outcome, digest

    async def _process(
        self, unprocessed: Mapping[str, Any], stored_hash: str | None, permit: Permit
    ) -> tuple[ProcessingOutcome, _Collector | None]:
        entity = copy_entity(unprocessed)
        collector: _Collector | None = None
        try:
            _check_envelope(entity)
            ref = entity_ref(entity)
            location = entity_location(entity, ANNOTATION_LOCATION)
            origin = entity_location(entity, ANNOTATION_ORIGIN_LOCATION)
            collector = _Collector(location, origin, ref, permit)
            if entity["kind"] == "Location":
                await self._look_up_prior(unprocessed, stored_hash, collector)
            if collector.prior is None:
                await permit.take()
            entity = await self._run(entity, ref, location, origin, collector)
        except _Unchanged:
            raise
        except Exception as error:  # every failure becomes a status error of this entity
            errors = [*(collector.errors if collector else []), error]
            failed = ProcessingOutcome(
                False,
                entity,
                errors=[serialize_error(e) for e in errors],
                valid=collector is not None and collector.validated,
            )
            return failed, None
        outcome = ProcessingOutcome(
            ok=not collector.errors,
            entity=entity,
            children=list(collector.children.values()),
            relations=collector.relations,
            errors=[serialize_error(error) for error in collector.errors],
            refresh_keys=sorted(set(collector.refresh_keys)),
            valid=True,
            duplicates=collector.duplicates,
        )
        return outcome, collector

    async def _look_up_prior(
        self, unprocessed: Mapping[str, Any], stored_hash: str | None, collector: _Collector
    ) -> None:
        """Find the record of the processing that gave `stored_hash` from this very
        definition, if it is kept."""
        if self._unchanged is None:
            return
        collector.definition = self._unchanged.definition(unprocessed)
        if collector.definition is None or stored_hash is None:
            return
        prior = await self._unchanged.reader.recorded(collector.self_ref)
        if (
            prior is not None
            and prior.get("definition") == collector.definition
            and prior.get("result") == stored_hash
        ):
            collector.prior = prior

    def _check_unchanged(self, collector: _Collector) -> None:
        """Raise `_Unchanged` when the reads are those that gave the stored result."""
        if collector.definition is None or collector.errors:
            return
        collector.inputs = UnchangedInputs.inputs(collector.definition, collector.reads)
        inputs, prior = collector.inputs, collector.prior
        if inputs is not None and prior is not None and prior.get("inputs") == inputs:
            raise _Unchanged

    async def _run(
        self,
        entity: dict[str, Any],
        ref: str,
        location: LocationSpec,
        origin: LocationSpec,
        collector: _Collector,
    ) -> dict[str, Any]:
        for pre in self._pre:
            entity = await pre.pre_process_entity(entity, location, collector.emit, origin)
        metadata = entity.setdefault("metadata", {})
        if not metadata.get("namespace"):
            metadata["namespace"] = "default"
        # The same definition, with the same processors and rules, was valid when it gave
        # the stored result: validating it again would find the same.
        if collector.prior is None:
            validate_entity(entity)
        if entity_ref(entity) != ref:
            raise ConflictError(
                "Fatal: The entity kind, namespace, or name changed during processing"
            )
        if collector.prior is None and not await self._kind_is_known(entity):
            raise InputError(
                f"No processor recognized the entity {ref} as valid, possibly caused by a "
                "foreign kind or apiVersion"
            )
        collector.validated = True
        if entity["kind"] == "Location":
            await self._read_targets(entity, location, collector)
            self._check_unchanged(collector)
        await collector.permit.take()
        await self._emit_unemitted(collector)
        for post in self._post:
            entity = await post.post_process_entity(entity, location, collector.emit)
        for child in collector.children.values():
            if not self._rules.is_allowed(child.entity, origin):
                child_location = child.entity["metadata"]["annotations"][ANNOTATION_LOCATION]
                raise NotAllowedError(
                    f"Entity {child.ref} at {child_location}, originated at {origin}, "
                    "is not of an allowed kind for that location"
                )
        return entity

    async def _kind_is_known(self, entity: dict[str, Any]) -> bool:
        for validator in self._validators:
            if await validator.validate_entity_kind(entity):
                return True
        return False

    async def _read_targets(
        self, entity: dict[str, Any], location: LocationSpec, collector: _Collector
    ) -> None:
        spec = entity.get("spec") or {}
        type_ = spec.get("type") or location.type
        targets = [*([spec["target"]] if spec.get("target") else []), *(spec.get("targets") or [])]
        optional = spec.get("presence") == "optional"
        if type_ != location.type and type_ not in self._cross_types:
            # a file read from a URL may not point the catalog at the local filesystem
            allowed = ", ".join(self._cross_types)
            raise NotAllowedError(
                f"Location entity {entity_ref(entity)} at {location} may not read locations "
                f"of type {type_}; another type than its own must be one of [{allowed}]"
            )
        known = _prior_reads(collector.prior)
        for target in targets:
            wanted = LocationSpec(type_, _resolve(location, type_, target))
            etag = known.get(str(wanted))
            read = KnownRead(etag) if etag else None
            collector.reads.append(
                (str(wanted), await self._read(wanted, optional, collector, read))
            )
            if read is not None and not read.emitted:
                collector.unemitted.append((wanted, optional))

    async def _emit_unemitted(self, collector: _Collector) -> None:
        """Emit what the reads found unchanged by their known ETag gave, read again from
        the kept reads: the entity is processed after all (another target changed)."""
        for wanted, optional in collector.unemitted:
            await self._read(wanted, optional, collector, None)
        collector.unemitted.clear()

    async def _read(
        self, wanted: LocationSpec, optional: bool, collector: _Collector, known: KnownRead | None
    ) -> str | None:
        """Read one target through the first reader that handles it; returns the version
        of what it read, when the reader knows it."""
        unchanged = self._unchanged
        if unchanged is not None and wanted.type == "url":
            # the URL reader is the only reader of `url` when `unchanged` is set
            return await unchanged.reader.read_versioned(
                wanted, optional, collector.emit, parse_entity_yaml, collector.permit.take, known
            )
        for reader in self._readers:
            if await reader.read_location(wanted, optional, collector.emit, parse_entity_yaml):
                return None
        raise InputError(f"No processor was able to handle reading of {wanted}")
