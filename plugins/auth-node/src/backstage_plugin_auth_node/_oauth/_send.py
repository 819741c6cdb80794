"""Sending a request to an identity provider, with its failures as typed errors."""

from __future__ import annotations

import httpx
from backstage_common.errors import ServiceUnavailableError

__all__ = ["send_to_provider"]


async def send_to_provider(
    http: httpx.AsyncClient, request: httpx.Request, *, provider: str, what: str
) -> httpx.Response:
    """Send `request`; the answer, whatever its status below 500.

    The error messages name the failure's type and the status, never the request, which
    may carry a code, a token or the client secret.

    Args:
        http: the client to send with.
        request: the request, built by `http`.
        provider: who is asked, as messages start with it (`GitHub`).
        what: what the request is, as messages name it (`the token request`).

    Raises:
        ServiceUnavailableError: the provider could not be reached or answered 5xx.
    """
    try:
        response = await http.send(request)
    except httpx.HTTPError as error:
        raise ServiceUnavailableError(
            f"{provider} did not answer {what}: {type(error).__name__}"
        ) from None
    if response.status_code >= 500:
        raise ServiceUnavailableError(
            f"{provider} failed {what} with status {response.status_code}"
        )
    return response
