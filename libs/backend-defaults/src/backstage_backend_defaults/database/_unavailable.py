"""A database that cannot serve a request now: one typed error, 503 with a generic message.

Whatever the way a database fails a request (refused or timed-out connects, a pool with no
free connection in time, a connection lost or cut by a client-side timeout, a statement
cancelled by `statement_timeout`, a server starting up or shutting down), the caller gets
`ServiceUnavailableError` with a message that names no host, statement or driver: those
stay in the chained cause, for the logs.

This module imports neither SQLAlchemy nor asyncpg, so that the error renderer can use it
in processes that never load them.
"""

from __future__ import annotations

import sys
from typing import Any

from backstage_common.errors import ServiceUnavailableError

__all__ = ["DatabaseUnavailableError", "as_unavailable", "install_unavailable_errors"]

UNREACHABLE = "The database is unavailable, try again later"
BUSY = "The database is busy, try again later"
TOO_SLOW = "The database did not answer in time, try again later"

# SQLSTATE classes and codes of a server that cannot serve now: connection exceptions,
# insufficient resources (too many connections, out of memory), operator intervention
# (shutdown, crash recovery, starting up) and a cancelled statement (its timeout).
_UNAVAILABLE_CLASSES = ("08", "53", "57P")
_CANCELLED = ("57014",)


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database could not serve the request now (HTTP 503).

    `public_message` is what a client reads; the message itself may say more for the logs
    and for startup failures (which server, which plugin), and defaults to it.
    """

    def __init__(self, message: str, *, public_message: str | None = None) -> None:
        super().__init__(message)
        self.public_message = public_message or message

    @property
    def name(self) -> str:
        return "ServiceUnavailableError"


def _sqlstate(error: BaseException) -> str:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else ""


def _layers(error: BaseException) -> list[BaseException]:
    """`error`, the driver's error SQLAlchemy wraps, and the asyncpg error its adapter wraps."""
    layers = [error]
    driver = getattr(error, "orig", None)
    if isinstance(driver, BaseException):
        layers.append(driver)
        if driver.__cause__ is not None:
            layers.append(driver.__cause__)
    return layers


def _asyncpg_connection_error(error: BaseException) -> bool:
    asyncpg_errors = sys.modules.get("asyncpg.exceptions")
    if asyncpg_errors is None:
        return False
    kinds = (asyncpg_errors.PostgresConnectionError, asyncpg_errors.ClientCannotConnectError)
    if isinstance(error, kinds):
        return True
    # asyncpg says a connection it has seen end is "closed" with no error class of its own
    return isinstance(error, asyncpg_errors.InterfaceError) and "closed" in str(error)


def _message(error: BaseException) -> str | None:
    """The generic message for a database failure that means "unavailable", else None."""
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_errors is not None and isinstance(error, sqlalchemy_errors.TimeoutError):
        return BUSY  # no connection of the pool came free within the acquire timeout
    if isinstance(error, TimeoutError):
        return TOO_SLOW
    if isinstance(error, OSError):
        return UNREACHABLE
    layers = _layers(error)
    state = next((_sqlstate(layer) for layer in layers if _sqlstate(layer)), "")
    if state in _CANCELLED:
        return TOO_SLOW
    if state.startswith(_UNAVAILABLE_CLASSES):
        return UNREACHABLE
    for layer in layers[1:]:
        if isinstance(layer, TimeoutError):
            return TOO_SLOW
        if isinstance(layer, OSError) or _asyncpg_connection_error(layer):
            return UNREACHABLE
    return UNREACHABLE if _asyncpg_connection_error(error) else None


def _is_database_layer(error: BaseException) -> bool:
    """Raised by SQLAlchemy, or by asyncpg itself: a pool's checkout hooks and code that
    uses the driver's connection directly get asyncpg's errors unwrapped."""
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_errors is not None and isinstance(error, sqlalchemy_errors.SQLAlchemyError):
        return True
    asyncpg_errors = sys.modules.get("asyncpg.exceptions")
    return asyncpg_errors is not None and isinstance(
        error, asyncpg_errors.PostgresError | asyncpg_errors.InterfaceError
    )


def as_unavailable(error: BaseException) -> DatabaseUnavailableError | None:
    """`error` as the 503 it means when it is a database that cannot serve now, else None.

    Only errors of the database layer (SQLAlchemy's and asyncpg's) are considered: a bare
    `OSError` or `TimeoutError` counts only when raised through SQLAlchemy
    (`install_unavailable_errors` turns those into `DatabaseUnavailableError` where they
    happen).
    """
    if isinstance(error, DatabaseUnavailableError):
        return error
    if not _is_database_layer(error):
        return None
    message = _message(error)
    if message is None:
        return None
    unavailable = DatabaseUnavailableError(message)
    unavailable.__cause__ = error
    return unavailable


def install_unavailable_errors(engine: Any) -> None:
    """Make every failure of `engine` that means "unavailable" a `DatabaseUnavailableError`.

    Connecting goes through asyncpg directly, whose errors SQLAlchemy passes on unwrapped
    (`ConnectionRefusedError`, `TimeoutError`); a client-side timeout of a statement is a
    bare `TimeoutError` too. A connection that timed out is also marked as lost, so that
    the pool throws it away instead of handing out a connection still busy with the
    abandoned statement.
    """
    from sqlalchemy import event

    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            # connecting never fails because of the request: whatever the reason (refused,
            # timed out, too many connections, a wrong password), the request cannot be served
            raise DatabaseUnavailableError(_message(error) or UNREACHABLE) from error

    @event.listens_for(sync_engine, "handle_error")
    def _handle(context: Any) -> BaseException | None:
        error = context.original_exception
        if isinstance(error, TimeoutError | OSError):
            context.is_disconnect = True
        message = _message(error)
        if message is None:
            return None
        unavailable = DatabaseUnavailableError(message)
        unavailable.__cause__ = context.sqlalchemy_exception or error
        return unavailable
