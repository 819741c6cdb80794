"""Costs of service-to-service auth: issuing and verifying plugin tokens.

One backend (SQLite in memory) hosts plugins `caller` and `callee`. The script measures,
best of `--repeats` rounds of `--ops` calls each:

- `issue`: `auth.get_plugin_request_token` of `caller` (ES256 signature, key cached);
- `verify`: `auth.authenticate` of `callee` on a plugin token (the caller's keys cached
  after the first fetch over HTTP);
- `static`: `auth.authenticate` on a static external-access token;
- `pyjwt`: a bare `jwt.decode` of the same token with the same key, the floor for `verify`.

Prints one line per measure and a JSON line with calls/s.

Run: `uv run python benchmarks/auth/bench.py [--ops 5000] [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from backstage_backend_defaults import create_backend
from backstage_backend_defaults.auth import DefaultAuthService
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    core_services,
    create_backend_plugin,
)

STATIC = "static-token-for-the-benchmark"


def _plugin(plugin_id: str) -> Any:
    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core_services.HttpRouter) -> None:
            return None

        env.register_init(init)

    return create_backend_plugin(plugin_id=plugin_id, register=register)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _rate(ops: int, repeats: int, call: Callable[[], Awaitable[Any]]) -> float:
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(ops):
            await call()
        best = max(best, ops / (time.perf_counter() - started))
    return best


async def main(ops: int, repeats: int) -> None:
    port = _free_port()
    backend = create_backend(
        config_data={
            "backend": {
                "baseUrl": f"http://127.0.0.1:{port}",
                "listen": {"host": "127.0.0.1", "port": port},
                "logging": {"level": "error"},
                "auth": {
                    "externalAccess": [
                        {"type": "static", "options": {"token": STATIC, "subject": "bench"}}
                    ]
                },
            }
        }
    )
    backend.add(_plugin("caller"))
    backend.add(_plugin("callee"))
    await backend.start()
    try:
        caller = await backend.get_service(core_services.auth, "caller")
        callee = await backend.get_service(core_services.auth, "callee")
        assert isinstance(caller, DefaultAuthService)
        own = await caller.get_own_service_credentials()

        async def issue() -> Any:
            return await caller.get_plugin_request_token(
                on_behalf_of=own, target_plugin_id="callee"
            )

        token = (await issue()).token
        await callee.authenticate(token)  # fetches and caches the caller's keys
        keys = (await caller.list_public_service_keys())["keys"]
        key = jwt.PyJWK(keys[0], algorithm="ES256")

        async def bare() -> Any:
            return jwt.decode(token, key, algorithms=["ES256"], audience="callee")

        rates = {
            "issue": await _rate(ops, repeats, issue),
            "verify": await _rate(ops, repeats, lambda: callee.authenticate(token)),
            "static": await _rate(ops, repeats, lambda: callee.authenticate(STATIC)),
            "pyjwt": await _rate(ops, repeats, bare),
        }
    finally:
        await backend.stop()
    for name, rate in rates.items():
        print(f"{name:>7}: {rate:10.0f} calls/s")
    print(json.dumps({name: round(rate) for name, rate in rates.items()}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ops, arguments.repeats))
