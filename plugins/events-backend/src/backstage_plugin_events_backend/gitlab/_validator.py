"""GitLab's webhook token: `X-Gitlab-Token` must be the configured secret."""

from __future__ import annotations

import hmac

from backstage_plugin_events_node import (
    RequestDetails,
    RequestRejectionDetails,
    RequestValidationContext,
    RequestValidator,
)

__all__ = ["gitlab_token_validator"]

_REJECTION = RequestRejectionDetails(status=403, payload={"message": "invalid token"})


def gitlab_token_validator(secret: str) -> RequestValidator:
    """Accepts a request whose `x-gitlab-token` equals `secret` (compared in constant time,
    where Backstage compares plainly); otherwise 403 `invalid token`.

    Args:
        secret: `events.modules.gitlab.webhookSecret`.
    """
    if not secret:
        raise ValueError("The GitLab webhook validator needs a secret")
    expected = secret.encode()

    async def validate(request: RequestDetails, context: RequestValidationContext) -> None:
        token = request.headers.get("x-gitlab-token")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), expected):
            context.reject(_REJECTION)

    return validate
