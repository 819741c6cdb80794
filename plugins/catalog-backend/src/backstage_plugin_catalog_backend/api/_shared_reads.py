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

__all__ = ["COUNTER_SQL", "SharedReads"]

COUNTER_SQL = (
    # a fresh sequence shows its start value before its first number is drawn and after
    "SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM final_entity_changes"
)
"""The counter's value: it moves with every statement that writes final entities."""

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
