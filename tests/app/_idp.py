"""oidc-provider (the OpenID Provider the auth tests run, `tests/auth_idp/oidc`) as a plain
process for the browser test: its clients and accounts given, its issuer read back."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from backstage_backend_test_utils import npm_ci
from joserfc.jwk import RSAKey

from ._deployments import REPO_ROOT

SERVER = REPO_ROOT / "tests" / "auth_idp" / "oidc"


@contextlib.contextmanager
def oidc_provider(
    *, client_id: str, client_secret: str, redirect_uri: str, accounts: Mapping[str, Any], log: Path
) -> Iterator[str]:
    """Runs the IdP until the block ends; yields its issuer URL."""
    node = npm_ci(SERVER, "run the oidc-provider identity provider")
    key = RSAKey.generate_key(
        2048, parameters={"kid": "app-test", "alg": "RS256", "use": "sig"}, private=True
    )
    settings = {
        "clients": [
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        ],
        "jwks": {"keys": [key.as_dict(private=True)]},
        "accounts": dict(accounts),
        "cookieKeys": [secrets.token_hex(16)],
    }
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [node, str(SERVER / "server.mjs")],
            cwd=SERVER,
            env={**os.environ, "OIDC_IDP_CONFIG": json.dumps(settings)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"oidc-provider did not start\n{log.read_text()}")
        yield str(json.loads(line)["issuer"])
    finally:
        if process.stdout is not None:
            process.stdout.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
