"""Knowing a file unchanged from its branch's commit: many files of one repository read at
once (a processing pass over one location per file) ask for the commit once between them,
and a file whose ETag was confirmed at that very commit needs no request of its own.

Only a lookup not yet sent is shared: a caller never takes an answer given before it
asked (a push just before a refresh would be missed until the next pass).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["CommitLookups", "ConfirmedEtags"]

_GATHER_SECONDS = 0.002
"""How long a lookup waits for more callers before it is sent."""
_CONFIRMED_KEPT = 100_000
"""Files whose last confirmed ETag is remembered (the oldest are forgotten first)."""


class CommitLookups:
    """Commit lookups shared by the callers that ask within a few milliseconds."""

    def __init__(self) -> None:
        self._next: dict[Hashable, asyncio.Future[str]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def sha(self, key: Hashable, lookup: Callable[[], Awaitable[str]]) -> str:
        """The commit sha that `lookup` answers, from a lookup sent after this call.

        Args:
            key: what the lookup asks (repository, ref, credentials).
            lookup: sends the request and returns the sha.
        """
        future = self._next.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._next[key] = future
            task = asyncio.get_running_loop().create_task(self._send(key, future, lookup))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return await asyncio.shield(future)

    async def _send(
        self, key: Hashable, future: asyncio.Future[str], lookup: Callable[[], Awaitable[str]]
    ) -> None:
        # Callers that ask meanwhile share this lookup (it is not sent yet); from then on
        # they wait for the next one.
        await asyncio.sleep(_GATHER_SECONDS)
        del self._next[key]
        try:
            sha = await lookup()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:  # every caller gets the lookup's own failure
            future.set_exception(error)
            return
        future.set_result(sha)


class ConfirmedEtags:
    """For each file, the ETag it had at a commit (confirmed by reading it, or by a 304,
    after that commit was looked up)."""

    def __init__(self, kept: int = _CONFIRMED_KEPT) -> None:
        """
        Args:
            kept: how many files are remembered.
        """
        self._kept = kept
        self._at: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def unchanged(self, url: str, sha: str, etag: str) -> bool:
        """Whether `url` had the ETag `etag` at the commit `sha`.

        Args:
            url: the file.
            sha: the branch's commit now.
            etag: the ETag the caller holds.
        """
        return self._at.get(url) == (sha, etag)

    def confirm(self, url: str, sha: str, etag: str) -> None:
        """Remember that `url` had the ETag `etag` at the commit `sha`.

        Args:
            url: the file.
            sha: the commit looked up before the file was read.
            etag: the file's ETag from that read.
        """
        self._at[url] = (sha, etag)
        self._at.move_to_end(url)
        if len(self._at) > self._kept:
            self._at.popitem(last=False)
