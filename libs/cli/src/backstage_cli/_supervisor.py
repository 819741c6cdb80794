"""The supervisor of a unit's worker processes (`backend.workers` above 1).

Each worker is a fresh interpreter running the same unit (`backstage-py start` with
`BACKSTAGE_WORKER` set). The serving workers each listen on the unit's port: granian binds
it with `SO_REUSEPORT`, so the kernel shares its connections between them. A worker
reports that it is ready through a pipe the supervisor hands it; it joins the accept group
only then. The supervisor runs no backend itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the supervisor imports no backend: it stays a small process
    from backstage_common.worker_role import WorkerRole

__all__ = [
    "READY_FD_ENV",
    "WORKER_ENV",
    "Supervisor",
    "SupervisorLog",
    "WorkerSpec",
    "report_ready",
]

WORKER_ENV = "BACKSTAGE_WORKER"
"""Set in a worker's environment (to its index): its `start` serves the unit itself."""
READY_FD_ENV = "BACKSTAGE_WORKER_READY_FD"
"""The pipe a worker writes one byte to once it serves."""

_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0
_STABLE_AFTER = 60.0
"""Seconds a worker must have run for its next death to count as its first."""
_PR_SET_PDEATHSIG = 1


class SupervisorLog(Protocol):
    """Where the supervisor writes what happens to its workers."""

    def info(self, message: str) -> None:
        """Log `message` at info level."""

    def error(self, message: str, error: BaseException | None = None) -> None:
        """Log `message` at error level, with the `error` that caused it if any."""


def report_ready(env: Mapping[str, str] = os.environ) -> None:
    """In a worker: tell the supervisor that this process serves now (nothing elsewhere)."""
    fd = env.get(READY_FD_ENV)
    if fd is None:
        return
    with contextlib.suppress(OSError, ValueError):
        os.write(int(fd), b"1")
        os.close(int(fd))


def _parent_death_signal() -> Callable[[], None] | None:
    """What a worker runs between fork and exec so that a supervisor killed outright
    (SIGKILL, OOM) does not leave its workers holding the port: the kernel sends them
    SIGTERM, and they shut down as on any stop. Looked up here, in the parent: the child
    only calls it (the event loop's child watcher runs threads, so the child must take
    no lock)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return None

    def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return die_with_parent


@dataclass(frozen=True)
class WorkerSpec:
    """One worker: its `index`, its `role`, and the variables its environment adds."""

    index: int
    role: WorkerRole
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"worker {self.index} ({self.role})"


_PREEXEC = _parent_death_signal()


class _Slot:
    """One worker kept running: started, restarted with a backoff after it died."""

    def __init__(self, spec: WorkerSpec, command: Sequence[str], logger: SupervisorLog) -> None:
        self.spec = spec
        self._command = command
        self._logger = logger
        self.process: asyncio.subprocess.Process | None = None
        self.started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        """Resolves once the first start ended: 0 when the worker serves, else its exit code."""
        self.exit_code: int | None = None

    async def _spawn(self) -> tuple[asyncio.subprocess.Process, int]:
        read_fd, write_fd = os.pipe()
        env = {**os.environ, **self.spec.env, WORKER_ENV: str(self.spec.index)}
        env[READY_FD_ENV] = str(write_fd)
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command, env=env, pass_fds=(write_fd,), preexec_fn=_PREEXEC
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return process, read_fd

    @staticmethod
    async def _ready(read_fd: int) -> bool:
        """Whether the worker reported ready; False once it exited without doing so."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[bytes] = loop.create_future()

        def readable() -> None:
            if not result.done():
                try:
                    result.set_result(os.read(read_fd, 1))
                except OSError:
                    result.set_result(b"")

        loop.add_reader(read_fd, readable)
        try:
            return await result == b"1"
        finally:
            loop.remove_reader(read_fd)
            os.close(read_fd)

    async def keep(self, stopping: asyncio.Event) -> None:
        """Run the worker until `stopping`; restart it when it dies after its first start."""
        try:
            await self._keep(stopping)
        finally:
            if not self.started.done():  # it could not even be started
                self.started.set_result(1)

    async def _keep(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while not stopping.is_set():
            process, read_fd = await self._spawn()
            self.process = process
            ready = await self._ready(read_fd)
            if not self.started.done():
                if not ready:
                    code = await process.wait()
                    self.exit_code = code
                    self.started.set_result(code or 1)
                    return
                self.started.set_result(0)
            if ready:
                self._logger.info(f"Started {self.spec.name}, pid {process.pid}")
            began = loop.time()
            code = await process.wait()
            self.exit_code = code
            if stopping.is_set():
                return
            if loop.time() - began >= _STABLE_AFTER:
                failures = 0
            delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2**failures)
            failures += 1
            self._logger.error(
                f"{self.spec.name.capitalize()}, pid {process.pid}, exited with {code}; "
                f"restarting it in {delay:g}s"
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stopping.wait()

    def signal(self, signum: int) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)


def _clean_exit(code: int | None) -> bool:
    # a worker that got SIGTERM before it could install its handler ends by the signal
    return code in (0, -signal.SIGTERM)


class Supervisor:
    """Starts the workers of `specs` (each running `command`), keeps them running, and
    stops them on SIGTERM or SIGINT: they are forwarded the signal and killed once
    `stop_timeout` seconds passed."""

    def __init__(
        self,
        command: Sequence[str],
        specs: Sequence[WorkerSpec],
        logger: SupervisorLog,
        *,
        stop_timeout: float,
    ) -> None:
        self._command = list(command)
        self._specs = list(specs)
        self._logger = logger
        self._stop_timeout = stop_timeout

    async def run(self) -> int:
        """Supervise until stopped; the exit code: 0 when every worker stopped cleanly, the
        exit code of a worker that failed to start, 1 otherwise."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        slots = [_Slot(spec, self._command, self._logger) for spec in self._specs]
        keepers = [asyncio.create_task(slot.keep(stopping), name=slot.spec.name) for slot in slots]
        self._logger.info(
            f"Starting {len(slots)} workers: "
            + ", ".join(f"{slot.spec.index} ({slot.spec.role})" for slot in slots)
        )
        failed = await self._started(slots, stopping)
        if failed is not None:
            self._logger.error(
                f"{failed.spec.name.capitalize()} failed to start (exit code "
                f"{failed.exit_code}); stopping the other workers"
            )
        else:
            if not stopping.is_set():
                self._logger.info(f"All {len(slots)} workers are ready")
            await stopping.wait()
            self._logger.info("Stopping the workers")
        clean = await self._stop(slots, keepers)
        if failed is not None:
            return failed.exit_code if failed.exit_code not in (None, 0) else 1
        return 0 if clean else 1

    async def _started(self, slots: list[_Slot], stopping: asyncio.Event) -> _Slot | None:
        """Wait until every worker serves; the first that failed to start, if one did."""
        pending: set[asyncio.Future[Any]] = {slot.started for slot in slots}
        stop: asyncio.Future[Any] = asyncio.ensure_future(stopping.wait())
        try:
            while pending and not stopping.is_set():
                done, _ = await asyncio.wait({*pending, stop}, return_when=asyncio.FIRST_COMPLETED)
                pending -= done
                if stopping.is_set():  # workers stopped while starting did not fail
                    return None
                for slot in slots:
                    if slot.started in done and slot.started.result() != 0:
                        return slot
        finally:
            stop.cancel()
        return None

    async def _stop(self, slots: list[_Slot], keepers: list[asyncio.Task[None]]) -> bool:
        """Forward SIGTERM, wait for the workers, kill those left at the timeout; whether
        every worker stopped cleanly."""
        for slot in slots:
            slot.signal(signal.SIGTERM)
        _, late = await asyncio.wait(keepers, timeout=self._stop_timeout)
        clean = True
        if late:
            for slot in slots:
                if slot.process is not None and slot.process.returncode is None:
                    self._logger.error(
                        f"{slot.spec.name.capitalize()} did not stop within "
                        f"{self._stop_timeout:g}s; killing it"
                    )
                    slot.signal(signal.SIGKILL)
                    clean = False
            await asyncio.wait(keepers)
        for keeper in keepers:
            if keeper.exception() is not None:
                self._logger.error("A worker could not be supervised", keeper.exception())
                clean = False
        return clean and all(_clean_exit(slot.exit_code) for slot in slots)
