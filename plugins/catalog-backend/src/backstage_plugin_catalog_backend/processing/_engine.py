"""The processing engine: provider mutations in, a replica-safe processing queue over
`refresh_state`, one transaction per processed entity, and a stitch queue with tickets.

Replicas share the work through the database: a claim pushes `next_update_at` (or
`next_stitch_at`) into the future in the same statement that selects the due rows, with
`FOR UPDATE SKIP LOCKED` on Postgres; on SQLite the single conditional UPDATE is atomic.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
import sqlalchemy as sa
from backstage_backend_plugin_api import LoggerService
from backstage_common.catalog_model import normalize_entity_ref_key
from backstage_common.errors import InputError, NotFoundError, ServiceUnavailableError
from backstage_plugin_catalog_node import (
    DeferredEntity,
    DeltaMutation,
    EntityProvider,
    EntityProviderMutation,
    LocationSpec,
    RemovedEntityRef,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backstage_plugin_catalog_backend._tables import (
    refresh_keys,
    refresh_state,
    refresh_state_references,
    stitch_queue,
)
from backstage_plugin_catalog_backend.processing._entities import (
    entity_ref,
    location_entity,
    stable_hash,
)
from backstage_plugin_catalog_backend.processing._orchestrator import (
    Orchestrator,
)
from backstage_plugin_catalog_backend.processing._store import (
    Conflict,
    Source,
    UnprocessedItem,
    chunks,
    enqueue_stitch,
    lock_source,
    prune,
    upsert_unprocessed,
)
from backstage_plugin_catalog_backend.processing._writer import ProcessedResult, write_results
from backstage_plugin_catalog_backend.stitching import stitch_entities

__all__ = ["CatalogProcessingEngine", "EngineOptions", "ProviderTransaction"]

_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()
_RELEASE_ON_STOP_SECONDS = 2.0
_DRY_RUN_LIMIT = 10_000
_CHECKED_PER_TURN = 1_000
"""Entities of a provider's mutation checked between two turns of the event loop."""
_REFS_LOGGED = 5
"""Entities named in the line that logs the failures of a batch."""
_ANALYZE_AFTER = 1_000
# Children held before a processing batch writes what it has (a location's file emits its
# entities as children: 100 locations of 500 entities would otherwise be 50,000 at once).
_CHILDREN_PER_WRITE = 2_000
"""Final entities written since the planner's statistics were last refreshed, after which
they are refreshed once the engine is idle (Postgres)."""


@dataclass(frozen=True, slots=True)
class EngineOptions:
    interval: tuple[float, float] | None = (100.0, 150.0)
    """Seconds between two processings of an entity (random in the range); None: off."""
    orphan_strategy: Literal["delete", "keep"] = "delete"
    orphan_provider_strategy: Literal["delete", "keep"] = "delete"
    """`delete`: at start, remove what providers that are no longer installed emitted."""
    concurrency: int = 10
    batch_size: int = 100
    poll_seconds: float = 1.0
    orphan_cleanup_seconds: float = 30.0
    stitch_batch: int = 200
    stitch_timeout: float = 60.0
    """Seconds a claimed stitch is leased to its claimant (`stitchTimeout`): another replica
    takes it up once the lease ran out, which only matters when the claimant died."""


@dataclass(frozen=True, slots=True)
class _Claimed:
    entity_id: str
    entity_ref: str
    unprocessed: str
    result_hash: str | None


def _check_envelope(entity: Any) -> None:
    metadata = entity.get("metadata") if isinstance(entity, dict) else None
    if (
        not isinstance(metadata, dict)
        or not isinstance(entity.get("apiVersion"), str)
        or not isinstance(entity.get("kind"), str)
        or not isinstance(metadata.get("name"), str)
    ):
        raise InputError(
            "Malformed entity envelope, apiVersion, kind and metadata.name must be strings"
        )


class _ProviderConnection:
    def __init__(self, engine: CatalogProcessingEngine, name: str) -> None:
        self._engine = engine
        self._name = name

    async def apply_mutation(self, mutation: EntityProviderMutation) -> None:
        await self._engine.apply_mutation(self._name, mutation)

    async def refresh(self, keys: Sequence[str]) -> None:
        await self._engine.refresh_keys(keys)


async def _checked_items(mutation: EntityProviderMutation) -> dict[str, UnprocessedItem]:
    added = mutation.entities if not isinstance(mutation, DeltaMutation) else mutation.added
    items: dict[str, UnprocessedItem] = {}
    for index, deferred in enumerate(added, 1):
        _check_envelope(deferred.entity)
        ref = entity_ref(deferred.entity)
        items[ref] = UnprocessedItem(ref, deferred.entity, deferred.location_key)
        if index % _CHECKED_PER_TURN == 0:
            await asyncio.sleep(0)  # a mutation of many thousands must not hold the loop
    return items


def _removed_ref(item: DeferredEntity | RemovedEntityRef) -> str:
    if isinstance(item, RemovedEntityRef):
        return normalize_entity_ref_key(item.entity_ref)
    return entity_ref(item.entity)


class ProviderTransaction:
    """A provider's open transaction (see `CatalogProcessingEngine.provider_transaction`)."""

    def __init__(self, connection: AsyncConnection, name: str) -> None:
        self.connection = connection
        self.name = name
        self.conflicts: list[Conflict] = []

    async def apply(self, mutation: EntityProviderMutation) -> None:
        await self.apply_checked(mutation, await _checked_items(mutation))

    async def apply_checked(
        self, mutation: EntityProviderMutation, items: dict[str, UnprocessedItem]
    ) -> None:
        connection, name = self.connection, self.name
        existing = await self._provider_refs()
        if isinstance(mutation, DeltaMutation):
            removed = {_removed_ref(item) for item in mutation.removed} - set(items)
        else:
            removed = existing - set(items)
        for batch in chunks(sorted(removed)):
            await connection.execute(
                sa.delete(refresh_state_references).where(
                    refresh_state_references.c.source_key == name,
                    refresh_state_references.c.target_entity_ref.in_(batch),
                )
            )
        accepted, conflicts = await upsert_unprocessed(
            connection, list(items.values()), Source(key=name)
        )
        new_refs = [ref for ref in accepted if ref not in existing]
        for batch in chunks(new_refs):
            await connection.execute(
                sa.insert(refresh_state_references),
                [{"source_key": name, "target_entity_ref": ref} for ref in batch],
            )
        await enqueue_stitch(connection, await prune(connection, removed))
        self.conflicts.extend(conflicts)

    async def _provider_refs(self) -> set[str]:
        return set(
            (
                await self.connection.execute(
                    sa.select(refresh_state_references.c.target_entity_ref).where(
                        refresh_state_references.c.source_key == self.name
                    )
                )
            ).scalars()
        )


class CatalogProcessingEngine:
    """Runs the catalog's processing and stitching; `start` connects the providers and
    starts the loop, `stop` ends it. Also the internal API of the REST endpoints."""

    def __init__(
        self,
        engine: AsyncEngine,
        orchestrator: Orchestrator,
        providers: Sequence[EntityProvider],
        logger: LoggerService,
        options: EngineOptions,
    ) -> None:
        self._engine = engine
        self.orchestrator = orchestrator
        self._providers = tuple(providers)
        self._logger = logger
        self._options = options
        self._sqlite_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._next_orphan_cleanup = 0.0
        self._written_since_analyze = 0
        self._unreleased: dict[str, str] = {}
        """Stitch leases (ref to ticket) of failed stitches, not yet handed back."""
        self._unwritten: set[str] = set()
        """Entities whose results the database did not take: due again once it is back."""

    # -- transactions ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on SQLite (one shared connection in memory) they are
        serialised."""
        if self._sqlite_lock is None:
            async with self._engine.begin() as connection:
                yield connection
            return
        async with self._sqlite_lock, self._engine.begin() as connection:
            yield connection

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        names = [provider.name for provider in self._providers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InputError(f"Duplicate entity provider names: {', '.join(duplicates)}")
        if self._options.orphan_provider_strategy == "delete":
            await self._evict_uninstalled_providers(set(names))
        for provider in self._providers:
            await provider.connect(_ProviderConnection(self, provider.name))
        self._task = asyncio.create_task(self._run(), name="catalog-processing")

    async def _evict_uninstalled_providers(self, installed: set[str]) -> None:
        references = refresh_state_references.c
        async with self.transaction() as connection:
            rows = await connection.execute(
                sa.select(references.source_key, references.target_entity_ref).where(
                    references.source_key.is_not(None), references.source_key.not_in(installed)
                )
            )
            gone = {(key, ref) for key, ref in rows}
            if not gone:
                return
            for key in sorted({key for key, _ in gone}):
                self._logger.info(f"Removing the entities of the uninstalled provider {key}")
                await connection.execute(
                    sa.delete(refresh_state_references).where(references.source_key == key)
                )
            await enqueue_stitch(connection, await prune(connection, {ref for _, ref in gone}))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._unreleased:
            # Shutdown cut a stitch short: hand its leases back if the database answers
            # at once, so that another replica need not wait for them to run out.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._release_stitches(), _RELEASE_ON_STOP_SECONDS)

    def add_providers(self, providers: Sequence[EntityProvider]) -> None:
        """Providers to connect at `start`."""
        self._providers += tuple(providers)

    def wake(self) -> None:
        self._wake.set()

    # -- providers -------------------------------------------------------------------

    async def apply_mutation(self, name: str, mutation: EntityProviderMutation) -> None:
        items = await _checked_items(mutation)
        async with self.provider_transaction(name) as transaction:
            await transaction.apply_checked(mutation, items)

    @contextlib.asynccontextmanager
    async def provider_transaction(self, name: str) -> AsyncIterator[ProviderTransaction]:
        """One transaction, holding provider `name`'s lock, in which a provider changes its
        own tables and applies its mutations: all of it is written, or none of it (a
        registered location is never left without its entity, nor a deleted one with it).
        Conflicts are logged and the loop woken once the transaction committed."""
        async with self.transaction() as connection:
            await lock_source(connection, name)
            transaction = ProviderTransaction(connection, name)
            yield transaction
        for conflict in transaction.conflicts:
            self._logger.warn(conflict.message)
        self.wake()

    async def refresh_keys(self, keys: Sequence[str]) -> None:
        """Process now every entity that registered one of `keys`."""
        async with self.transaction() as connection:
            for batch in chunks(list(keys)):
                ids = sa.select(refresh_keys.c.entity_id).where(refresh_keys.c.key.in_(batch))
                await connection.execute(
                    sa.update(refresh_state)
                    .where(refresh_state.c.entity_id.in_(ids))
                    .values(next_update_at=datetime.now(UTC))
                )
        self.wake()

    async def refresh_now(self, refs: Collection[str]) -> None:
        """Process now these entities and their `location:` ancestors. Raises
        `NotFoundError` for a ref nothing references."""
        wanted = {normalize_entity_ref_key(ref) for ref in refs}
        async with self.transaction() as connection:
            known = set(
                (
                    await connection.execute(
                        sa.select(refresh_state_references.c.target_entity_ref)
                        .where(refresh_state_references.c.target_entity_ref.in_(wanted))
                        .distinct()
                    )
                ).scalars()
            )
            missing = sorted(wanted - known)
            if missing:
                raise NotFoundError(f"Entity {missing[0]} not found")
            scheduled, frontier = set(wanted), set(wanted)
            while frontier:
                parents = set(
                    (
                        await connection.execute(
                            sa.select(refresh_state_references.c.source_entity_ref).where(
                                refresh_state_references.c.target_entity_ref.in_(frontier),
                                refresh_state_references.c.source_entity_ref.is_not(None),
                            )
                        )
                    ).scalars()
                )
                frontier = {ref for ref in parents - scheduled if ref.startswith("location:")}
                scheduled |= frontier
            await connection.execute(
                sa.update(refresh_state)
                .where(refresh_state.c.entity_ref.in_(scheduled))
                .values(next_update_at=datetime.now(UTC))
            )
        self.wake()

    # -- in-memory processing ---------------------------------------------------------

    async def dry_run(self, location: LocationSpec) -> list[dict[str, Any]]:
        """Process a location and everything it leads to in memory; nothing is written."""
        queue: list[dict[str, Any]] = [location_entity(location)]
        seen: set[str] = set()
        entities: list[dict[str, Any]] = []
        while queue:
            outcome = await self.orchestrator.process(queue.pop(0))
            if not outcome.ok:
                messages = [f"{e['name']}: {e['message']}" for e in outcome.errors]
                raise InputError("; ".join(messages))
            ref = entity_ref(outcome.entity)
            for duplicate in outcome.duplicates:
                raise InputError(f"Duplicate nested entity: {duplicate.ref}")
            if ref in seen:
                raise InputError(f"Duplicate nested entity: {ref}")
            seen.add(ref)
            entities.append(outcome.entity)
            queue.extend(child.entity for child in outcome.children)
            if len(entities) > _DRY_RUN_LIMIT:
                raise InputError(
                    f"Location {location} leads to more than {_DRY_RUN_LIMIT} entities"
                )
        return entities

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            worked = False
            try:
                if self._options.interval is not None:
                    worked = await self.process_batch() > 0
                worked = await self.stitch_batch() > 0 or worked
                if (
                    self._options.orphan_strategy == "delete"
                    and loop.time() >= self._next_orphan_cleanup
                ):
                    self._next_orphan_cleanup = loop.time() + self._options.orphan_cleanup_seconds
                    worked = await self.delete_orphans() > 0 or worked
                if not worked and self._written_since_analyze >= _ANALYZE_AFTER:
                    await self.refresh_statistics()
            except Exception as error:  # the loop survives database hiccups
                self._logger.error("Catalog processing failed", error)
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._options.poll_seconds)

    async def refresh_statistics(self) -> None:
        """Have Postgres vacuum the search index and final entities and re-read their
        statistics.

        After a large ingestion the planner would otherwise plan filters with the row counts
        of a nearly empty catalog (a sequential scan of every entity per page), and walks of
        the search index would visit the table for each row (its pages not yet marked all
        visible), until autovacuum gets round to it.
        """
        self._written_since_analyze = 0
        if self._engine.dialect.name != "postgresql":
            return
        async with self._engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text("VACUUM (ANALYZE) search, final_entities"))

    def _next_update(self, now: datetime) -> datetime:
        low, high = self._options.interval or (100.0, 150.0)
        return now + timedelta(seconds=random.uniform(low, high))

    async def _claim(self) -> list[_Claimed]:
        now = datetime.now(UTC)
        async with self.transaction() as connection:
            due = (
                sa.select(refresh_state.c.entity_id)
                .where(refresh_state.c.next_update_at <= now)
                .order_by(refresh_state.c.next_update_at)
                .limit(self._options.batch_size)
            )
            if connection.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = await connection.execute(
                sa.update(refresh_state)
                .where(
                    refresh_state.c.entity_id.in_(due.scalar_subquery()),
                    refresh_state.c.next_update_at <= now,
                )
                .values(next_update_at=self._next_update(now))
                .returning(
                    refresh_state.c.entity_id,
                    refresh_state.c.entity_ref,
                    refresh_state.c.unprocessed_entity,
                    refresh_state.c.result_hash,
                )
            )
            return [_Claimed(*row) for row in rows]

    async def process_batch(self) -> int:
        """Claim the due entities (up to `batch_size`), process them with at most
        `concurrency` at a time, and write what changed in one transaction, or in several
        when the results carry many children (a batch of locations, each file emitting
        hundreds of entities, is written as it goes instead of held in memory at once)."""
        self._in_flight += 1
        try:
            if self._unwritten:
                await self._hand_back_unwritten()
            claimed = await self._claim()
            limit = asyncio.Semaphore(self._options.concurrency)
            failures: list[tuple[str, Exception]] = []
            pending: list[ProcessedResult] = []
            children = 0
            writing = asyncio.Lock()
            # Set while `pending` has room: once it holds a full write that waits behind
            # the one under way, processing waits until that write takes it. (A batch of
            # locations would otherwise be processed far ahead of its writes, with all
            # their files' entities in memory, and every full garbage collection walking
            # them.) Processing still overlaps the write under way.
            room = asyncio.Event()
            room.set()

            async def flush() -> None:
                nonlocal children
                async with writing:
                    done = pending[:]
                    pending.clear()
                    children = 0
                    room.set()
                    await self._write(done)

            async def process(item: _Claimed) -> None:
                nonlocal children
                async with limit:
                    # Processing an entity rarely waits for anything: without this turn
                    # of the loop the whole batch would be processed in one go, holding
                    # up everything else; now a turn processes `concurrency` at most.
                    await asyncio.sleep(0)
                    await room.wait()
                    result = await self._process(item, failures)
                if result is None:
                    return
                pending.append(result)
                children += len(result.outcome.children)
                if children >= _CHILDREN_PER_WRITE:
                    room.clear()
                    await flush()

            await asyncio.gather(*(process(item) for item in claimed))
            await flush()
            self._log_failures("Processing", len(claimed), failures)
            return len(claimed)
        finally:
            self._in_flight -= 1

    async def _process(
        self, item: _Claimed, failures: list[tuple[str, Exception]]
    ) -> ProcessedResult | None:
        try:
            outcome = await self.orchestrator.process(_decode.decode(item.unprocessed))
        except Exception as error:  # the orchestrator records errors; this is a bug
            failures.append((item.entity_ref, error))  # logged once for the batch
            return None
        digest = stable_hash(
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
        if digest == item.result_hash:
            return None
        return ProcessedResult(item.entity_id, item.entity_ref, outcome, digest)

    async def _write(self, results: list[ProcessedResult]) -> None:
        """Write the results in one transaction; when that fails, each in its own, so that
        one bad result does not hold back the others. The failures are logged once, with
        their count and a few of their entities."""
        if not results:
            return
        try:
            await self._write_together(results)
            return
        except Exception as error:
            failures: list[tuple[str, Exception]] = [(r.entity_ref, error) for r in results]
            # When the database failed the write, writing each alone would only wait for
            # it again, once per result.
            if len(results) > 1 and not isinstance(error, ServiceUnavailableError):
                failures = []
                for result in results:
                    try:
                        await self._write_together([result])
                    except Exception as single:
                        failures.append((result.entity_ref, single))
        self._log_failures("Writing", len(results), failures)
        # Claimed until the next interval, these would wait for it although only the
        # database failed them; a result that failed on its own waits, not to loop.
        unavailable = {ref for ref, error in failures if isinstance(error, ServiceUnavailableError)}
        self._unwritten.update(r.entity_id for r in results if r.entity_ref in unavailable)

    async def _hand_back_unwritten(self) -> None:
        ids = set(self._unwritten)
        async with self.transaction() as connection:
            for batch in chunks(sorted(ids)):
                await connection.execute(
                    sa.update(refresh_state)
                    .where(refresh_state.c.entity_id.in_(batch))
                    .values(next_update_at=datetime.now(UTC))
                )
        self._unwritten -= ids

    async def _write_together(self, results: list[ProcessedResult]) -> None:
        async with self.transaction() as connection:
            await write_results(connection, results, self._logger.warn)

    def _log_failures(self, action: str, total: int, failures: list[tuple[str, Exception]]) -> None:
        """One line for the failures of a batch: how many, the first few entities, and the
        first error (a database outage would otherwise log a trace per entity)."""
        if not failures:
            return
        refs = [ref for ref, _ in failures]
        shown = ", ".join(refs[:_REFS_LOGGED])
        more = f" and {len(refs) - _REFS_LOGGED} more" if len(refs) > _REFS_LOGGED else ""
        self._logger.error(
            f"{action} {len(refs)} of {total} entities failed",
            {"error": failures[0][1], "entityRefs": f"{shown}{more}"},
        )

    async def stitch_batch(self) -> int:
        """Claim due stitch requests and stitch those whose ticket is still current."""
        self._in_flight += 1
        try:
            if self._unreleased:
                await self._release_stitches()
            claimed = await self._claim_stitches()
            if not claimed:
                return 0
            try:
                await self._stitch(claimed)
            except BaseException:
                # Their leases would hold these back until they ran out (a database drop
                # would leave entities unserved for a whole stitch timeout): they are
                # handed back as soon as the database takes it.
                self._unreleased.update(claimed)
                raise
            return len(claimed)
        finally:
            self._in_flight -= 1

    async def _claim_stitches(self) -> dict[str, str]:
        now = datetime.now(UTC)
        async with self.transaction() as connection:
            due = (
                sa.select(stitch_queue.c.entity_ref)
                .where(stitch_queue.c.next_stitch_at <= now)
                .order_by(stitch_queue.c.next_stitch_at)
                .limit(self._options.stitch_batch)
            )
            if connection.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            lease = timedelta(seconds=self._options.stitch_timeout)
            return {
                ref: ticket
                for ref, ticket in await connection.execute(
                    sa.update(stitch_queue)
                    .where(
                        stitch_queue.c.entity_ref.in_(due.scalar_subquery()),
                        stitch_queue.c.next_stitch_at <= now,
                    )
                    .values(next_stitch_at=now + lease)
                    .returning(stitch_queue.c.entity_ref, stitch_queue.c.stitch_ticket)
                )
            }

    async def _stitch(self, claimed: dict[str, str]) -> None:
        async with self.transaction() as connection:
            current = sa.select(stitch_queue.c.entity_ref, stitch_queue.c.stitch_ticket).where(
                stitch_queue.c.entity_ref.in_(list(claimed))
            )
            if connection.dialect.name == "postgresql":
                current = current.with_for_update()
            valid = [
                ref
                for ref, ticket in await connection.execute(current)
                if claimed.get(ref) == ticket
            ]
            self._written_since_analyze += len(await stitch_entities(connection, valid))
            for batch in chunks(valid):
                await connection.execute(
                    sa.delete(stitch_queue).where(stitch_queue.c.entity_ref.in_(batch))
                )

    async def _release_stitches(self) -> None:
        """Make the stitches of failed claims due now, unless re-requested meanwhile (a new
        ticket is due already)."""
        leased = dict(self._unreleased)
        now = datetime.now(UTC)
        async with self.transaction() as connection:
            for batch in chunks(sorted(leased.items())):
                await connection.execute(
                    sa.update(stitch_queue)
                    .where(
                        stitch_queue.c.entity_ref == sa.bindparam("b_ref"),
                        stitch_queue.c.stitch_ticket == sa.bindparam("b_ticket"),
                    )
                    .values(next_stitch_at=now),
                    [{"b_ref": ref, "b_ticket": ticket} for ref, ticket in batch],
                )
        for ref, ticket in leased.items():
            if self._unreleased.get(ref) == ticket:
                del self._unreleased[ref]

    async def delete_orphans(self) -> int:
        """Delete entities nothing references (and what only they referenced)."""
        references = refresh_state_references.c
        async with self.transaction() as connection:
            orphans = list(
                (
                    await connection.execute(
                        sa.select(refresh_state.c.entity_ref)
                        .where(
                            ~sa.exists().where(
                                references.target_entity_ref == refresh_state.c.entity_ref
                            )
                        )
                        .limit(1000)
                    )
                ).scalars()
            )
            if orphans:
                await enqueue_stitch(connection, await prune(connection, orphans))
        return len(orphans)

    @staticmethod
    def _orphan_count() -> sa.Select[Any]:
        references = refresh_state_references.c
        return (
            sa.select(sa.func.count())
            .select_from(refresh_state)
            .where(~sa.exists().where(references.target_entity_ref == refresh_state.c.entity_ref))
        )

    async def wait_until_idle(self) -> None:
        """Return once nothing is due for processing or stitching and no work is running."""
        while True:
            if self._in_flight == 0:
                now = datetime.now(UTC)
                async with self.transaction() as connection:
                    due = await connection.scalar(
                        sa.select(sa.func.count()).where(refresh_state.c.next_update_at <= now)
                    )
                    if self._options.interval is None:
                        due = 0
                    if self._options.orphan_strategy == "delete":
                        due = (due or 0) + (await connection.scalar(self._orphan_count()) or 0)
                    stitches = await connection.scalar(
                        sa.select(sa.func.count()).where(stitch_queue.c.next_stitch_at <= now)
                    )
                if not due and not stitches and self._in_flight == 0:
                    return
                self._next_orphan_cleanup = 0.0
            self.wake()
            await asyncio.sleep(0.02)
