"""Typed errors shared by every backstage-py package.

The classes carry no HTTP knowledge: the backend maps them to status codes in one place.
Their names match Backstage's error names, because the names travel on the wire in the
`error.name` field of the error body that Backstage's clients parse.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BackstageError",
    "ConflictError",
    "ForwardedError",
    "InputError",
    "NotAllowedError",
    "NotFoundError",
    "NotImplementedError",
    "NotModifiedError",
    "ServiceUnavailableError",
]


class BackstageError(Exception):
    """Base of the typed errors; `message` is what reaches the caller."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        full = message if cause is None else f"{message}; caused by {_describe(cause)}"
        super().__init__(full)
        self.message = full
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    @property
    def name(self) -> str:
        """The error name on the wire (`error.name`)."""
        return type(self).__name__


def _describe(error: BaseException) -> str:
    name = error.name if isinstance(error, BackstageError) else type(error).__name__
    return f"{name}: {error}"


class InputError(BackstageError):
    """The request or the configuration is malformed (HTTP 400)."""


class AuthenticationError(BackstageError):
    """No valid credentials were given (HTTP 401)."""


class NotAllowedError(BackstageError):
    """Valid credentials that may not do this (HTTP 403)."""


class NotFoundError(BackstageError):
    """The thing asked for does not exist (HTTP 404)."""


class ConflictError(BackstageError):
    """The request conflicts with the current state (HTTP 409)."""


class NotModifiedError(BackstageError):
    """The resource has not changed since the caller last saw it (HTTP 304)."""


class NotImplementedError(BackstageError):
    """The operation is not supported by this implementation (HTTP 501)."""


class ServiceUnavailableError(BackstageError):
    """The service cannot answer right now, for example while starting (HTTP 503)."""


class ForwardedError(BackstageError):
    """Wraps an error from elsewhere and keeps its name, so its status follows the cause."""

    def __init__(self, message: str, cause: BaseException) -> None:
        super().__init__(message, cause)

    @property
    def name(self) -> str:
        cause = self.cause
        if isinstance(cause, BackstageError):
            return cause.name
        return type(cause).__name__ if cause is not None else "Error"
