"""What every integration's reader holds: the integration (its host) and the shared HTTP side."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from backstage_backend_defaults.url_reader._http import ReaderHttp

__all__ = ["IntegrationReader"]


class _Integration(Protocol):
    @property
    def host(self) -> str: ...


IntegrationT = TypeVar("IntegrationT", bound=_Integration)


class IntegrationReader(Generic[IntegrationT]):
    """The base of a reader of one integration's host (a `HostReader` once it reads): the
    integration and the shared HTTP side.

    Args:
        integration: the integration whose host it reads.
        http: the shared HTTP side (rate limits, bounded bodies).
    """

    def __init__(self, integration: IntegrationT, http: ReaderHttp) -> None:
        self._integration = integration
        self._http = http

    @property
    def host(self) -> str:
        """The integration's host, the one whose URLs it reads."""
        return self._integration.host
