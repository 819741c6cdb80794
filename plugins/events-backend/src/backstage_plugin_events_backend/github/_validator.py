"""GitHub's webhook signature: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from backstage_backend_plugin_api import RootConfigService
from backstage_plugin_events_node import (
    RequestDetails,
    RequestRejectionDetails,
    RequestValidationContext,
    RequestValidator,
)

__all__ = ["github_signature_validator", "github_webhook_secrets"]

_HEADER = "x-hub-signature-256"
_REJECTION = RequestRejectionDetails(status=403, payload={"message": "invalid signature"})


def github_webhook_secrets(config: RootConfigService) -> list[str]:
    """`events.modules.github.webhookSecret`, then every
    `integrations.github[].apps[].webhookSecret`.

    Args:
        config: the root config.
    """
    secrets: list[str] = []
    app_secrets: list[str] = []
    generic = config.get_optional_string("events.modules.github.webhookSecret")
    for integration in config.get_optional_config_array("integrations.github") or []:
        for app in integration.get_optional_config_array("apps") or []:
            secret = app.get_optional_string("webhookSecret")
            if secret:
                app_secrets.append(secret)
    secrets.extend(app_secrets)
    if generic:
        secrets.append(generic)
    return secrets


def _signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_signature_validator(secrets: Sequence[str]) -> RequestValidator:
    """Accepts a request whose `x-hub-signature-256` is the HMAC of its body under one of
    `secrets` (compared in constant time); anything else is 403 `invalid signature`. The
    legacy SHA-1 `x-hub-signature` is never accepted.

    Args:
        secrets: the webhook secrets; at least one.
    """
    if not secrets:
        raise ValueError("The GitHub webhook validator needs a secret")
    keys = list(secrets)

    async def validate(request: RequestDetails, context: RequestValidationContext) -> None:
        header = request.headers.get(_HEADER)
        if not isinstance(header, str) or not header.startswith("sha256="):
            context.reject(_REJECTION)
            return
        # GitHub signs the body's text as UTF-8: decode with the declared charset first
        try:
            body = request.raw.body.decode(request.raw.encoding).encode("utf-8")
        except (LookupError, UnicodeDecodeError):
            context.reject(_REJECTION)
            return
        matched = False
        for secret in keys:  # every secret is tried, so timing does not tell which matched
            matched |= hmac.compare_digest(_signature(secret, body), header)
        if not matched:
            context.reject(_REJECTION)

    return validate
