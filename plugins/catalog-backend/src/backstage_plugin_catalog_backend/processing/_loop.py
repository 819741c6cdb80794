"""The processing loop: a replica-safe processing queue over `refresh_state`, results
written in one transaction per batch, and a stitch queue with tickets.

Replicas share the work through the database: a claim pushes `next_update_at` (or
`next_stitch_at`) into the future in the same statement that selects the due rows, with
`FOR UPDATE SKIP LOCKED` on Postgres; on SQLite the single conditional UPDATE is atomic.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
import sqlalchemy as sa
from backstage_backend_plugin_api import DatabaseService, LoggerService
from backstage_common.errors import ServiceUnavailableError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backstage_plugin_catalog_backend._tables import (
    refresh_state,
    refresh_state_references,
    stitch_queue,
)
from backstage_plugin_catalog_backend.processing._deadlocks import retry_on_deadlock
from backstage_plugin_catalog_backend.processing._orchestrator import Orchestrator
from backstage_plugin_catalog_backend.processing._permit import Permit
from backstage_plugin_catalog_backend.processing._store import (
    PEER_STITCH_DELAY,
    chunks,
    enqueue_stitch,
    prune,
)
from backstage_plugin_catalog_backend.processing._writer import ProcessedResult, write_results
from backstage_plugin_catalog_backend.stitching import stitch_entities

__all__ = ["ProcessingLoop", "ProcessingOptions"]

_decode = msgspec.json.Decoder()
_RELEASE_ON_STOP_SECONDS = 2.0
_REFS_LOGGED = 5
"""Entities named in the line that logs the failures of a batch."""
_ANALYZE_AFTER = 1_000
"""Final entities written since the planner's statistics were last refreshed, after which
they are refreshed once the loop is idle (Postgres)."""
_FIRST_GROWTH_ANALYZE = 500
"""Entities written (processed and stitched) after which the planner's statistics of the
growing tables are first refreshed while work goes on; then each time that count doubles."""
_GROWING_TABLES = (
    "refresh_state",
    "refresh_state_references",
    "relations",
    "refresh_keys",
    "final_entities",
    "search",
    "stitch_queue",
)
_GROWTH_STATISTICS = 10
"""`default_statistics_target` of the analyzes while tables grow (Postgres's default: 100)."""
# Children held before a processing batch writes what it has (a location's file emits its
# entities as children: 100 locations of 500 entities would otherwise be 50,000 at once).
_CHILDREN_PER_WRITE = 2_000
_PROCESSING_LOOPS = 2
_STITCH_LOOPS = 2
"""Stitching loops: while one builds final entities or waits for a round trip, the other's
statements keep Postgres busy (the batches of an ingestion's backlog are independent)."""
_BACKLOG_GROWTH = 4
"""How many times `batch_size` a claim grows to while each claim comes back full: a backlog
(an ingestion) then takes fewer, larger transactions, each a fixed number of round trips
however many rows it writes. Stitch claims stay at `stitch_batch`: a stitch holds its queue
rows until it commits, and every write that queues one of them waits that long."""


@dataclass(frozen=True, slots=True)
class ProcessingOptions:
    interval: tuple[float, float] | None = (100.0, 150.0)
    """Seconds between two processings of an entity (random in the range); None: off."""
    orphan_strategy: Literal["delete", "keep"] = "delete"
    concurrency: int = 10
    reading_concurrency: int = 100
    """Location entities that may be unchanged waiting for their conditional reads at once,
    besides the `concurrency` entities being processed."""
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


def _next_claim_size(size: int, claimed: int, base: int) -> int:
    """Twice `size` after a full claim (up to `_BACKLOG_GROWTH` times `base`), else `base`."""
    return min(2 * size, _BACKLOG_GROWTH * base) if claimed >= size else base


class ProcessingLoop:
    """The catalog's processing and stitching, on the background pool (`engine` is its
    engine): `start` starts the loop, `stop` ends it, `wake` has it look for due work at
    once."""

    def __init__(
        self,
        database: DatabaseService,
        engine: AsyncEngine,
        orchestrator: Orchestrator,
        logger: LoggerService,
        options: ProcessingOptions,
    ) -> None:
        self._database = database
        self._engine = engine
        self.orchestrator = orchestrator
        self._logger = logger
        self._options = options
        self._wakes: list[asyncio.Event] = []
        self._processing_idle = True
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._next_orphan_cleanup = 0.0
        self._written_since_analyze = 0
        self._written = 0
        self._claim_size = options.batch_size
        self._next_growth_analyze = _FIRST_GROWTH_ANALYZE
        self._analyzing: asyncio.Task[None] | None = None
        self._unreleased: dict[str, str] = {}
        """Stitch leases (ref to ticket) of failed stitches, not yet handed back."""
        self._unwritten: set[str] = set()
        """Entities whose results the database did not take: due again once it is back."""

    def transaction(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction on the background pool."""
        return self._database.transaction(purpose="background")

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="catalog-processing")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # the loop's end (cancelled) is the stop; a cancellation of the caller (the
            # shutdown deadline) propagates at once
            await asyncio.wait({task})
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error
        if self._unreleased:
            # Shutdown cut a stitch short: hand its leases back if the database answers
            # at once, so that another replica need not wait for them to run out.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_RELEASE_ON_STOP_SECONDS):
                    await self._release_stitches()

    def wake(self) -> None:
        for wake in self._wakes:
            wake.set()

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        # Processing and stitching mostly wait for the database: as loops of their own each
        # goes on while the other waits, and a second processing loop claims and processes
        # the next batch while the previous one is written. Replicas share work through
        # their claims, and so do these loops.
        loops = [asyncio.create_task(self._stitch_loop())]
        loops += [
            asyncio.create_task(self._repeat(self._stitch_step)) for _ in range(_STITCH_LOOPS - 1)
        ]
        if self._options.interval is not None:
            loops += [
                asyncio.create_task(self._processing_loop()) for _ in range(_PROCESSING_LOOPS)
            ]
        try:
            await asyncio.wait(loops)
        finally:
            # Stopped only once every loop has ended: a stitch cut short records its leases
            # as it ends, and `stop` hands them back after.
            if self._analyzing is not None:
                loops.append(self._analyzing)
            for task in loops:
                task.cancel()
            await asyncio.wait(loops)

    async def _processing_loop(self) -> None:
        async def step() -> bool:
            worked = await self.process_batch() > 0
            self._processing_idle = not worked
            return worked

        await self._repeat(step)

    async def _stitch_step(self) -> bool:
        return await self.stitch_batch() > 0

    async def _stitch_loop(self) -> None:
        """Stitching, and the housekeeping that waits for processing to be idle."""
        loop = asyncio.get_running_loop()

        async def step() -> bool:
            worked = await self.stitch_batch() > 0
            if (
                self._options.orphan_strategy == "delete"
                and loop.time() >= self._next_orphan_cleanup
            ):
                self._next_orphan_cleanup = loop.time() + self._options.orphan_cleanup_seconds
                worked = await self.delete_orphans() > 0 or worked
            idle = not worked and self._processing_idle
            if idle and self._written_since_analyze >= _ANALYZE_AFTER:
                await self.refresh_statistics()
            elif self._written >= self._next_growth_analyze and self._analyzing is None:
                # on a connection of its own, while stitching goes on
                self._analyzing = asyncio.create_task(self._analyze_growth())
            return worked

        await self._repeat(step)

    async def _repeat(self, step: Callable[[], Awaitable[bool]]) -> None:
        """Run `step` again and again; after a step that found nothing to do, wait for a
        wake-up or the poll interval."""
        wake = asyncio.Event()
        self._wakes.append(wake)
        while True:
            wake.clear()
            worked = False
            try:
                worked = await step()
            except Exception as error:  # the loop survives database hiccups
                self._logger.error("Catalog processing failed", error)
            if not worked:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._options.poll_seconds):
                        await wake.wait()

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

    async def _analyze_growth(self) -> None:
        """Have Postgres re-read the statistics of the tables an ingestion fills, while it
        fills them. Autovacuum's analyze comes a minute late at best: until then the
        planner takes the tables for empty, and every `IN (...)` over a batch's ids
        (`relations`, `search`, references) becomes a sequential scan of the whole table,
        slower with each batch written."""
        self._next_growth_analyze = 2 * max(self._written, self._next_growth_analyze)
        try:
            if self._engine.dialect.name == "postgresql":
                async with self._engine.begin() as connection:
                    # Row counts and rough distinct counts are all the batch lookups' plans
                    # need: a tenth of the default sample reads a tenth of the pages. The
                    # idle refresh and autovacuum analyze at the default target later.
                    await connection.execute(
                        sa.text(f"SET LOCAL default_statistics_target = {_GROWTH_STATISTICS}")
                    )
                    await connection.execute(sa.text(f"ANALYZE {', '.join(_GROWING_TABLES)}"))
        except Exception as error:  # the planner keeps the statistics it had
            self._logger.warn(f"Refreshing the catalog's statistics failed: {error}")
        finally:
            self._analyzing = None

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
                .limit(self._claim_size)
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
            claimed = [_Claimed(*row) for row in rows]
        self._claim_size = _next_claim_size(
            self._claim_size, len(claimed), self._options.batch_size
        )
        return claimed

    async def process_batch(self) -> int:
        """Claim the due entities (up to `batch_size`), process them with at most
        `concurrency` at a time (Location entities that may be unchanged wait for their
        reads besides, up to `reading_concurrency`), and write what changed in one
        transaction, or in several when the results carry many children (a batch of
        locations, each file emitting hundreds of entities, is written as it goes instead
        of held in memory at once)."""
        self._in_flight += 1
        try:
            if self._unwritten:
                await self._hand_back_unwritten()
            claimed = await self._claim()
            limit = asyncio.Semaphore(self._options.concurrency)
            # Unchanged Location entities mostly wait for "not modified": many at once
            # share one round trip (one commit lookup for the files of a repository)
            # instead of queueing up behind `limit` ten at a time.
            started = self._options.concurrency + self._options.reading_concurrency
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
                # a turn of the loop per entity started (its place under `limit` gives it
                # another: see `Permit.take`); it waits for room once it has its place
                await asyncio.sleep(0)
                result = await self._process(item, failures, Permit(limit, room.wait))
                if result is None:
                    return
                pending.append(result)
                children += len(result.outcome.children)
                if children >= _CHILDREN_PER_WRITE:
                    room.clear()
                    await flush()

            queued = iter(claimed)

            async def worker() -> None:
                # a few workers rather than a coroutine per entity waiting on `limit`: a
                # semaphore's every acquire looks through all of its waiters
                for item in queued:
                    await process(item)

            await asyncio.gather(*(worker() for _ in range(min(started, len(claimed)))))
            await flush()
            self._log_failures("Processing", len(claimed), failures)
            return len(claimed)
        finally:
            self._in_flight -= 1

    async def _process(
        self, item: _Claimed, failures: list[tuple[str, Exception]], permit: Permit
    ) -> ProcessedResult | None:
        try:
            processed = await self.orchestrator.process_claimed(
                _decode.decode(item.unprocessed), item.result_hash, permit
            )
        except Exception as error:  # the orchestrator records errors; this is a bug
            failures.append((item.entity_ref, error))  # logged once for the batch
            return None
        if processed is None or processed[1] == item.result_hash:
            return None
        return ProcessedResult(item.entity_id, item.entity_ref, *processed)

    async def _write(self, results: list[ProcessedResult]) -> None:
        """Write the results in one transaction; when that fails, each in its own, so that
        one bad result does not hold back the others. The failures are logged once, with
        their count and a few of their entities."""
        if not results:
            return
        try:
            await self._write_together(results)
            self._written += len(results)
            # what it wrote is due now: its stitches, and the children it emitted; its
            # peers' stitches once their delay has passed
            self.wake()
            asyncio.get_running_loop().call_later(PEER_STITCH_DELAY, self.wake)
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
        async def write() -> None:
            async with self.transaction() as connection:
                await write_results(connection, results, self._logger.warn)

        await retry_on_deadlock(write)

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
                await retry_on_deadlock(lambda: self._stitch(claimed))
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
            # locked in the order writers queue them in: each may wait for the other, never
            # both at once (a deadlock)
            current = (
                sa.select(stitch_queue.c.entity_ref, stitch_queue.c.stitch_ticket)
                .where(stitch_queue.c.entity_ref.in_(list(claimed)))
                .order_by(stitch_queue.c.entity_ref)
            )
            if connection.dialect.name == "postgresql":
                current = current.with_for_update()
            valid = [
                ref
                for ref, ticket in await connection.execute(current)
                if claimed.get(ref) == ticket
            ]
            stitched = len(await stitch_entities(connection, valid))
            self._written_since_analyze += stitched
            self._written += stitched
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
                    # a peer's stitch is due a moment after the write that asked for it
                    soon = now + timedelta(seconds=PEER_STITCH_DELAY)
                    stitches = await connection.scalar(
                        sa.select(sa.func.count()).where(stitch_queue.c.next_stitch_at <= soon)
                    )
                if not due and not stitches and self._in_flight == 0:
                    return
                self._next_orphan_cleanup = 0.0
                # Only when work is due and no loop is at it: a working loop goes on by
                # itself, and a wake-up every turn had the idle loops claim (a transaction
                # each) every 20 ms for as long as the others worked.
                self.wake()
            await asyncio.sleep(0.02)
