"""The one place that turns exceptions into HTTP: status codes and Backstage's error body."""

from __future__ import annotations

import secrets
import sys
from typing import Any

from backstage_backend_plugin_api import LoggerService
from backstage_common import errors
from litestar import Request, Response
from litestar.exceptions import HTTPException

from backstage_backend_defaults.database import DatabaseUnavailableError, as_unavailable
from backstage_backend_defaults.logger import error_message, redact_message

__all__ = ["ErrorRenderer", "error_status"]

_STATUS_BY_TYPE: tuple[tuple[type[errors.BackstageError], int], ...] = (
    (errors.NotModifiedError, 304),
    (errors.InputError, 400),
    (errors.AuthenticationError, 401),
    (errors.NotAllowedError, 403),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.NotImplementedError, 501),
    (errors.ServiceUnavailableError, 503),
)
_STATUS_BY_NAME = {cls.__name__: status for cls, status in _STATUS_BY_TYPE}
_NAME_BY_HTTP_STATUS = {
    400: "InputError",
    401: "AuthenticationError",
    403: "NotAllowedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    429: "TooManyRequestsError",
    501: "NotImplementedError",
    503: "ServiceUnavailableError",
}


def error_status(error: BaseException) -> int:
    """Backstage's rule: an explicit status wins, then the error's name, else 500."""
    explicit = getattr(error, "status_code", None) or getattr(error, "status", None)
    if isinstance(explicit, int) and 100 <= explicit <= 599:
        return explicit
    if isinstance(error, errors.ForwardedError):
        return _STATUS_BY_NAME.get(error.name, 500)
    for cls, status in _STATUS_BY_TYPE:
        if isinstance(error, cls):
            return status
    return 500


def _error_name(error: BaseException, status: int) -> str:
    if isinstance(error, errors.BackstageError):
        return error.name
    if isinstance(error, HTTPException):
        return _NAME_BY_HTTP_STATUS.get(status, "Error")
    return type(error).__name__


def _error_message(error: BaseException) -> str:
    if isinstance(error, HTTPException):
        detail = error.detail
        extra = error.extra
        if isinstance(extra, list) and extra:
            details = "; ".join(
                str(item.get("message", item)) if isinstance(item, dict) else str(item)
                for item in extra
            )
            return f"{detail}: {details}"
        return str(detail)
    return str(error) or "<no reason given>"


def _mount_relative(url: str) -> str:
    """As in Backstage, `request.url` of a plugin's error is relative to `/api/<pluginId>`."""
    if not url.startswith("/api/"):
        return url
    end = min((i for i in (url.find("/", 5), url.find("?", 5)) if i != -1), default=len(url))
    rest = url[end:]
    return rest if rest.startswith("/") else "/" + rest


def _plugin_of(url: str) -> dict[str, str]:
    """The plugin a request was for, as a log field: repeated failures are counted per
    plugin, and an operator sees which one fails."""
    if not url.startswith("/api/"):
        return {}
    plugin_id = url[5:].split("/", 1)[0].split("?", 1)[0]
    return {"plugin": plugin_id} if plugin_id else {}


def _is_database_error(error: BaseException) -> bool:
    """A raw driver error; checked without importing SQLAlchemy into processes that lack it."""
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_errors is not None and isinstance(error, sqlalchemy_errors.DBAPIError)


def _hides_cause(error: BaseException, cause: BaseException) -> bool:
    """A database error's text (its statement, the server's detail) never reaches a client,
    not even as the cause of an error that is fine to show, such as a 409."""
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    internal = sqlalchemy_errors is not None and isinstance(
        cause, sqlalchemy_errors.SQLAlchemyError
    )
    return internal or _is_database_error(error) or isinstance(error, DatabaseUnavailableError)


def _record_on_span(error: BaseException) -> None:
    """A server error, as an exception event of the request's span when tracing is on (the
    span is current while the error is rendered); OpenTelemetry is not loaded otherwise."""
    if "opentelemetry.trace" in sys.modules:
        from opentelemetry import trace

        trace.get_current_span().record_exception(error)


class ErrorRenderer:
    """Renders any exception as Backstage's JSON error body, and logs server errors."""

    def __init__(self, logger: LoggerService, *, show_stack_traces: bool) -> None:
        self._logger = logger
        self._show_stack_traces = show_stack_traces

    def body(self, error: BaseException, method: str, url: str) -> tuple[int, dict[str, Any]]:
        # a database that cannot serve now (unreachable, timed out, no free connection) is a
        # 503 with a generic message, whichever layer it surfaced from
        error = as_unavailable(error) or error
        status = error_status(error)
        if status >= 500:
            _record_on_span(error)
        if _is_database_error(error):
            log_id = secrets.token_hex(10)
            self._logger.error(f"Database error, logId={log_id}", error)
            payload: dict[str, Any] = {
                "name": "Error",
                "message": f"An internal error occurred logId={log_id}",
            }
        else:
            payload = {"name": _error_name(error, status), "message": _error_message(error)}
            if isinstance(error, DatabaseUnavailableError):
                payload["message"] = error.public_message
            if status == 503:
                self._log_unavailable(error, payload["name"], url)
            elif status >= 500:
                self._logger.error(
                    f"Request failed with status {status}: {payload['message']}",
                    {"error": error, **_plugin_of(url)},
                )
        if self._show_stack_traces:
            import traceback

            payload["stack"] = "".join(traceback.format_exception(error))
        cause = error.__cause__
        if cause is not None and not _hides_cause(error, cause):
            payload["cause"] = {"name": _error_name(cause, 500), "message": _error_message(cause)}
        return status, {
            "error": payload,
            "request": {"method": method, "url": _mount_relative(url)},
            "response": {"statusCode": status},
        }

    def _log_unavailable(self, error: BaseException, name: str, url: str) -> None:
        """A warning without a stack: a 503 is the backend answering as designed while it
        starts, shuts down or cannot reach a dependency, not a fault in this process; its
        stack only points at the gate or the pool, and an outage or a shutdown would
        otherwise fill the log with error-level traces. The cause (e.g. the database's
        connection error) says what is unavailable."""
        message = redact_message(_error_message(error), error)
        described: dict[str, object] = {"name": name, "message": message}
        cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        if cause is not None:
            described["cause"] = {"name": type(cause).__name__, "message": error_message(cause)}
        self._logger.warn(
            f"Request failed with status 503: {described['message']}",
            {"error": described, **_plugin_of(url)},
        )

    def litestar_handler(self, request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        status, body = self.body(error, request.method, url)
        headers = getattr(error, "headers", None) if isinstance(error, HTTPException) else None
        if status == 413:
            # the rest of the body is still on the connection, unread: a client must not
            # send its next request after it (as Node's server, the connection is closed)
            headers = {**(headers or {}), "connection": "close"}
        return Response(
            content=body, status_code=status, headers=headers, media_type="application/json"
        )
