"""One read in flight at a time, shared by every request that waits for it.

The facet counts and the entity cache both start a request by reading the
`final_entity_changes` counter (migration 0002). Under load, one read per request would
cost a round trip each; shared, it costs one per round trip time. A request never takes a
value read before it arrived: the requests that arrive while a read is in flight wait for
the next one, which is sent once the one in flight has answered, so after every one of
them arrived, and sees every write committed before any of them started.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["COUNTER_SQL", "SETTLED_SQL", "SharedReads"]

COUNTER_SQL = (
    # a fresh sequence shows its start value before its first number is drawn and after
    "SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM final_entity_changes"
)
"""The counter's value: it moves with every statement that writes final entities."""

_WRITE_LOCKS = (
    "('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')"
)
SETTLED_SQL = (
    "SELECT c.counter, NOT EXISTS (SELECT FROM pg_locks l WHERE l.locktype = 'relation' "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.relation IN ('final_entities'::regclass, 'search'::regclass) "
    f"AND l.mode IN {_WRITE_LOCKS} AND l.pid IS DISTINCT FROM pg_backend_pid() "
    f"AND c.counter IS NOT NULL) FROM ({COUNTER_SQL}) AS c(counter)"
)
"""The counter and whether no other transaction then held a write lock on `final_entities`
or `search` (`pg_locks`, read after the counter, on which it depends): a writer keeps its
lock from before its statement moved the counter until after its commit is visible."""

_T = TypeVar("_T")


class SharedReads(Generic[_T]):
    """Reads of `read` shared by the requests that wait for them: at most one read is in
    flight, and the requests that arrive meanwhile wait for the next one, which is sent
    once the one in flight has answered (so after every one of them arrived)."""

    def __init__(self, read: Callable[[], Awaitable[_T]]) -> None:
        self._read = read
        self._in_flight = False
        self._next: asyncio.Future[_T] | None = None

    async def read(self) -> _T:
        """The result of a read sent after this call began."""
        waiting = self._next
        if waiting is None:
            waiting = self._next = asyncio.get_running_loop().create_future()
            if not self._in_flight:
                self._send()
        # a request that goes away leaves the read for the others
        return await asyncio.shield(waiting)

    def _send(self) -> None:
        waiting, self._next = self._next, None
        if waiting is None:
            return
        self._in_flight = True
        task = asyncio.ensure_future(self._read())
        task.add_done_callback(functools.partial(self._answered, waiting))

    def _answered(self, waiting: asyncio.Future[_T], task: asyncio.Future[_T]) -> None:
        self._in_flight = False
        if task.cancelled():
            waiting.cancel()
        elif (error := task.exception()) is not None:
            waiting.set_exception(error)
        else:
            waiting.set_result(task.result())
        self._send()
