"""What the auth unit logs of a sign-in: never a token, a code, a secret or a cookie value.

The auth unit logs at `debug` (every request, every warning of a failed sign-in) through a
successful OIDC sign-in, a refresh, a logout and a sign-in with a forged ID token; then
every value a log line must not carry is looked for in its output.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from ._backends import APP_URL, SESSION_SECRET, free_port, start_units
from ._browser import browse, popup_message
from ._interposer import start_token_interposer
from ._oidc import JANE, OidcClient, new_signing_key, start_oidc_idp

pytestmark = pytest.mark.usefixtures("oidc_packages")

XHR = {"X-Requested-With": "XMLHttpRequest", "Origin": APP_URL}


def _log_records(output: str) -> list[dict[str, Any]]:
    records = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "level" in record:
            records.append(record)
    return records


async def test_no_secret_reaches_a_log_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    auth_port = free_port()
    callback = f"http://127.0.0.1:{auth_port}/api/auth/oidc/handler/frame"
    client = OidcClient("backstage", "the-oidc-client-secret", [callback])
    secrets: list[str] = [client.client_secret, SESSION_SECRET]
    async with (
        start_oidc_idp([client], log_dir=tmp_path, accounts={"jane": JANE}) as idp,
        start_token_interposer(idp.metadata_url) as interposer,
    ):
        providers = {
            "oidc": {
                "development": {
                    "clientId": client.client_id,
                    "clientSecret": client.client_secret,
                    "metadataUrl": interposer.metadata_url,
                    "prompt": "auto",
                    "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]},
                }
            }
        }
        async with start_units(
            tmp_path, auth_port=auth_port, providers=providers, log_level="debug"
        ) as units:
            start = f"{units.auth_url}/oidc/start?" + urlencode(
                {"env": "development", "origin": APP_URL, "flow": "popup"}
            )
            async with httpx.AsyncClient() as browser:
                stop = await browse(browser, start, stop_at=callback)
                assert stop.url is not None
                query = dict(parse_qsl(urlsplit(stop.url).query))
                message, _ = popup_message(await browser.get(stop.url))
                response = message["response"]
                secrets += [query["code"], response["backstageIdentity"]["token"]]
                secrets += [response["providerInfo"]["accessToken"]]
                secrets += [response["providerInfo"]["idToken"]]
                secrets += [cookie.value for cookie in browser.cookies.jar]
                refresh = f"{units.auth_url}/oidc/refresh?env=development"
                refreshed = await browser.get(refresh, headers=XHR)
                assert refreshed.status_code == 200, refreshed.text
                secrets += [refreshed.json()["backstageIdentity"]["token"]]
                logout = f"{units.auth_url}/oidc/logout?env=development"
                assert (await browser.post(logout, headers=XHR)).status_code == 200
            secrets += [answer["refresh_token"] for answer in interposer.token_responses]

            interposer.tamper = lambda body: {
                **body,
                "id_token": idp.sign(idp.id_token_claims(aud="backstage"), key=new_signing_key()),
            }
            async with httpx.AsyncClient() as browser:
                stop = await browse(browser, start)
                assert stop.response is not None
                refused, _ = popup_message(stop.response)
                assert "signature" in refused["error"]["message"]
            secrets += [answer["access_token"] for answer in interposer.token_responses]
            await asyncio.sleep(0.5)  # the log writer batches its lines

    output = capfd.readouterr().out
    records = _log_records(output)
    auth_lines = [record for record in records if record.get("plugin") == "auth"]
    assert auth_lines, "the auth unit logged nothing: the check would prove nothing"
    assert any("signature" in json.dumps(record) for record in auth_lines)
    leaked = sorted({secret[:12] for secret in secrets if secret and secret in output})
    assert leaked == [], f"log lines carry secrets starting with {leaked}"
