"""What `core.permissions` saves on calls to a permission plugin in another backend.

Two backends on loopback: one hosts plugin `bench` and asks its `core.permissions`, the
other hosts the permission plugin with a config policy (a conditional read rule with
`$ownerRefs`) and plugin `auth` publishing the keys of the benchmark's user token. Measured,
best of `--repeats` rounds:

- `cached`: `--ops` sequential `authorize_conditional` asks with one user token (the
  default: decisions remembered per token until it expires);
- `uncached`: the same with `permission.cache.maxEntries: 0` (every ask a round trip);
- `burst`: `--burst` concurrent asks of different permissions in one turn, with an empty
  cache: how many `/authorize` requests they cost (batching).

Prints one line per measure, the ratio cached/uncached, and a JSON line.

Run: `uv run python benchmarks/permission/authorize.py [--ops 2000] [--burst 50] [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackstageCredentials,
    BackstageUserPrincipal,
    PluginRegistrationPoints,
    QueryPermissionRequest,
    core_services,
    create_backend_plugin,
)
from backstage_backend_test_utils import (
    CapturingLogger,
    TestUserTokens,
    mock_services,
    start_test_backend,
)
from backstage_plugin_permission_backend import permission_plugin
from backstage_plugin_permission_common import create_permission

USER = "user:default/jane"
POLICY = {
    "default": "deny",
    "rules": [
        {"permission": "bench.basic.0", "decision": "allow"},
        {
            "resourceType": "bench-item",
            "decision": "conditional",
            "conditions": {"rule": "IS_OWNER", "params": {"claims": "$ownerRefs"}},
        },
    ],
}
READ = create_permission("bench.item.read", action="read", resource_type="bench-item")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bench_plugin() -> Any:
    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core_services.HttpRouter) -> None:
            return None

        env.register_init(init)

    return create_backend_plugin(plugin_id="bench", register=register)


async def _measure(max_entries: int, args: argparse.Namespace) -> dict[str, float]:
    tokens = TestUserTokens()
    log = CapturingLogger("info")
    bench_port, permission_port = _free_port(), _free_port()
    bench_url, permission_url = (f"http://127.0.0.1:{p}" for p in (bench_port, permission_port))

    def calls() -> int:
        return sum(1 for m in log.messages() if m.startswith('"POST /api/permission/authorize"'))

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            start_test_backend(
                features=[
                    auth_service_factory,
                    http_auth_service_factory,
                    mock_services.root_logger_factory(logger=log),
                    tokens.plugin(),
                    permission_plugin(),
                ],
                config={
                    "backend": {"baseUrl": permission_url, "listen": {"port": permission_port}},
                    "permission": {"enabled": True, "policy": POLICY},
                    "discovery": {
                        "endpoints": [
                            {"target": f"{bench_url}/api/{{{{pluginId}}}}", "plugins": ["bench"]}
                        ]
                    },
                },
            )
        )
        bench = await stack.enter_async_context(
            start_test_backend(
                features=[auth_service_factory, http_auth_service_factory, _bench_plugin()],
                config={
                    "backend": {"baseUrl": bench_url, "listen": {"port": bench_port}},
                    "permission": {"enabled": True, "cache": {"maxEntries": max_entries}},
                    "discovery": {
                        "endpoints": [
                            {
                                "target": f"{permission_url}/api/{{{{pluginId}}}}",
                                "plugins": ["permission", "auth"],
                            }
                        ]
                    },
                },
            )
        )
        permissions = await bench.get_service(core_services.permissions, "bench")
        credentials = BackstageCredentials(
            BackstageUserPrincipal(USER),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            token=tokens.token(USER, [USER, "group:default/team"]),
        )
        ask = [QueryPermissionRequest(READ)]
        await permissions.authorize_conditional(ask, credentials=credentials)  # warm up
        best = 0.0
        before = calls()
        for _ in range(args.repeats):
            started = time.perf_counter()
            for _ in range(args.ops):
                await permissions.authorize_conditional(ask, credentials=credentials)
            best = max(best, args.ops / (time.perf_counter() - started))
        round_trips = (calls() - before) / args.repeats
        burst_before = calls()
        burst = [create_permission(f"bench.basic.{i}", action="read") for i in range(args.burst)]
        fresh = BackstageCredentials(
            BackstageUserPrincipal(USER),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            token=tokens.token(USER, [USER]),
        )
        await asyncio.gather(
            *(
                permissions.authorize([AuthorizePermissionRequest(p)], credentials=fresh)
                for p in burst
            )
        )
        return {
            "calls_per_s": best,
            "round_trips_per_round": round_trips,
            "burst_round_trips": float(calls() - burst_before),
        }


async def _main(args: argparse.Namespace) -> None:
    cached = await _measure(10_000, args)
    uncached = await _measure(0, args)
    print(
        f"cached:   {cached['calls_per_s']:9.0f} asks/s, "
        f"{cached['round_trips_per_round']:.0f} round trips per {args.ops} asks"
    )
    print(
        f"uncached: {uncached['calls_per_s']:9.0f} asks/s, "
        f"{uncached['round_trips_per_round']:.0f} round trips per {args.ops} asks"
    )
    print(
        f"burst:    {args.burst} concurrent asks -> {cached['burst_round_trips']:.0f} round trip(s)"
    )
    ratio = cached["calls_per_s"] / uncached["calls_per_s"]
    print(f"ratio cached/uncached: {ratio:.1f}x")
    print(json.dumps({"cached": cached, "uncached": uncached, "ratio": ratio}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
