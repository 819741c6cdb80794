"""The permission unit of `permissions.py`: the permission plugin with the config policy, and
plugin `auth` serving the keys of the benchmark's user tokens, in a process of its own.

It writes the user tokens it issued to `--tokens-out` (JSON: one list of tokens per user),
serves `GET /api/bench/authorize-count` (how many `POST /authorize` it has answered) and runs
until SIGTERM.

Run by `permissions.py`; alone: `uv run python benchmarks/catalog/_permission_unit.py
--port 7010 --catalog-url http://127.0.0.1:7007 --users users.json --policy policy.json
--tokens-out tokens.json`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import (
    CapturingLogger,
    TestUserTokens,
    mock_services,
    start_test_backend,
)
from backstage_plugin_permission_backend import permission_plugin
from litestar import get


def counter_plugin(log: CapturingLogger) -> BackendPlugin:
    """`GET /api/bench/authorize-count`, open to all."""

    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core.HttpRouter) -> None:
            @get("/authorize-count")
            async def authorize_count() -> dict[str, int]:
                calls = sum(
                    1
                    for message in log.messages()
                    if message.startswith('"POST /api/permission/authorize"')
                )
                return {"calls": calls}

            router.use(authorize_count)
            router.add_auth_policy(path="/authorize-count", allow="unauthenticated")

        env.register_init(init)

    return create_backend_plugin(plugin_id="bench", register=register)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--catalog-url", required=True)
    parser.add_argument("--users", type=Path, required=True)
    parser.add_argument("--policy", type=Path, required=True)
    parser.add_argument("--tokens-out", type=Path, required=True)
    parser.add_argument("--tokens-per-user", type=int, default=64)
    options = parser.parse_args()
    users: list[list[Any]] = json.loads(options.users.read_text())
    base_url = f"http://127.0.0.1:{options.port}"
    tokens = TestUserTokens(issuer=f"{base_url}/api/auth")
    log = CapturingLogger("info")
    config = {
        "backend": {
            "baseUrl": base_url,
            "listen": {"host": "127.0.0.1", "port": options.port},
        },
        "permission": {"enabled": True, "policy": json.loads(options.policy.read_text())},
        "discovery": {
            "endpoints": [
                {"target": f"{options.catalog_url}/api/{{{{pluginId}}}}", "plugins": ["catalog"]}
            ]
        },
    }
    features = [
        auth_service_factory,
        http_auth_service_factory,
        mock_services.root_logger_factory(logger=log),
        tokens.plugin(),
        permission_plugin(),
        counter_plugin(log),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with start_test_backend(features=features, config=config):
        issued = [
            [tokens.token(user, refs) for _ in range(options.tokens_per_user)]
            for user, refs in users
        ]
        options.tokens_out.write_text(json.dumps(issued))
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
