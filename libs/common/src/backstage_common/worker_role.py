"""`backend.worker.role`: which part of a unit's work one of its processes does.

A unit started with several workers (`backend.workers`) runs serving workers, which answer
requests and run no background work, and one background worker, which runs it (the
catalog's processing and stitching, global scheduled tasks) and takes no public traffic.
The supervisor sets the key per worker; a unit's config may set it too, to split one
plugin's serving and background work across two units.
"""

from __future__ import annotations

from typing import Literal

from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = ["WORKER_ROLE_KEY", "WorkerRole", "read_worker_role", "runs_background_work"]

WORKER_ROLE_KEY = "backend.worker.role"

WorkerRole = Literal["all", "serve", "background"]
"""`all`: serves requests and runs background work (one process, as by default);
`serve`: serves requests only; `background`: runs background work only (it may still
answer its own health and the requests that reach it)."""

_ROLES: dict[str, WorkerRole] = {"all": "all", "serve": "serve", "background": "background"}


def read_worker_role(config: Config) -> WorkerRole:
    """The role of this process from `config` (`all` when unset); an `InputError` for a
    value that is not a role."""
    value = config.get_optional_string(WORKER_ROLE_KEY)
    if value is None:
        return "all"
    role = _ROLES.get(value)
    if role is None:
        raise InputError(f"Invalid '{WORKER_ROLE_KEY}' '{value}', use one of {', '.join(_ROLES)}")
    return role


def runs_background_work(config: Config) -> bool:
    """Whether this process runs background work: every role but `serve`."""
    return read_worker_role(config) != "serve"
