"""The page the popup flow ends on: it posts the result to the app that opened it.

The script is Backstage's, byte for byte in behaviour: a `config_info` message to any
origin (so the app learns the expected origin), then the response to the app's origin
only, then the window closes. Both values are URI-encoded inside single-quoted literals,
so nothing in them can end the string or the script; the CSP allows this script alone.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote

import msgspec

from backstage_plugin_auth_node._provider import AuthProviderResponse

__all__ = ["web_message_response"]


def _encode_component(value: str) -> str:
    # encodeURIComponent, plus the apostrophe, which it leaves alone
    return quote(value, safe="-_.!~*()")


def web_message_response(app_origin: str, message: dict[str, Any]) -> AuthProviderResponse:
    data = _encode_component(msgspec.json.encode(message).decode())
    origin = _encode_component(app_origin)
    script = f"""
    var authResponse = decodeURIComponent('{data}');
    var origin = decodeURIComponent('{origin}');
    var originInfo = {{'type': 'config_info', 'targetOrigin': origin}};
    (window.opener || window.parent).postMessage(originInfo, '*');
    (window.opener || window.parent).postMessage(JSON.parse(authResponse), origin);
    setTimeout(() => {{
      window.close();
    }}, 100);
  """
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return AuthProviderResponse(
        status=200,
        body=f"<html><body><script>{script}</script></body></html>".encode(),
        headers=[
            ("content-type", "text/html; charset=utf-8"),
            ("x-frame-options", "sameorigin"),
            ("content-security-policy", f"script-src 'sha256-{digest}'"),
        ],
    )
