"""What a conditional read permission costs the catalog: by-query and facets requests/s for a
user under an `IS_ENTITY_OWNER` policy, against the same requests with permissions off.

Setup, all on one Postgres catalog of `--entities` generated entities (`generate.py`):

- unit `catalog` (`backstage-py start --unit catalog`), permissions off: ingests the catalog;
- unit `catalog` again on the same database, `permission.enabled: true`, processing off;
- the permission unit (`_permission_unit.py`, a process of its own): the permission plugin
  with the config policy `catalog.entity.read` conditional on
  `{rule: IS_ENTITY_OWNER, params: {claims: $ownerRefs}}`, everything else allowed, and
  plugin `auth` serving the keys of the user tokens.

The user is a generated user whose ownership refs (the user and the groups it is a member
of, as a sign-in resolver gives them) own a realistic share of the catalog (printed).

Both catalog units get the same user token and the same load (`load.py`'s client and
workloads: by-query first pages and their cursor pages, limit 100, `kind=component` and a
lifecycle; facets of `spec.type` and `spec.lifecycle` among components). Under the policy
the user's pages hold only what it owns, so a third load asks the unit without permissions
for exactly those rows (the ownership as the caller's own filter): `ratio` compares with the
plain load (what the issue asks), `ratio_same_rows` with the same result sets (what the
permission machinery itself costs). The machine is shared, so the loads are measured in
turns, `--rounds` times each, rotating which goes first, and the medians are compared; the
spread of the rounds is printed as the noise.

Then the round trips to the permission unit: the calls it answered per 1,000 catalog
requests, with one token for all connections (decisions cached per token: about none) and
with a fresh token per connection per run (one call per token, concurrent asks of one token
batched into one).

Prints progress on stderr, then one JSON line on stdout:
{"entities", "owned_share", "workloads": {"by_query": {"off_rps": [...], "on_rps": [...],
"off_median", "on_median", "ratio", "noise"}, ...}, "round_trips_per_1000": {...}, "met"}

Run: `uv run python benchmarks/catalog/permissions.py --entities 10000`
(`--catalog DIR` reuses a generated catalog; `--duration`, `--rounds`, `--concurrency`,
`--workloads by_query,facets`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import compare
import load
import msgspec
import yaml

TARGET_RATIO = 0.8
POLICY = {
    "default": "allow",
    "rules": [
        {
            "permission": "catalog.entity.read",
            "resourceType": "catalog-entity",
            "decision": "conditional",
            "conditions": {"rule": "IS_ENTITY_OWNER", "params": {"claims": "$ownerRefs"}},
        }
    ],
}


def progress(message: str) -> None:
    print(f"[permissions] {message}", file=sys.stderr, flush=True)


def generated(options: argparse.Namespace, workdir: Path) -> Path:
    if options.catalog:
        return Path(options.catalog)
    folder = workdir / "catalog"
    command = [sys.executable, str(compare.HERE / "generate.py"), "--entities",
               str(options.entities), "--out", str(folder), "--seed", "1"]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return folder


def ownership(folder: Path) -> tuple[str, list[str], float]:
    """A user whose ownership refs own the share of the catalog closest to 2%: (user ref,
    ownership refs, share)."""
    owners: Counter[str] = Counter()
    members: dict[str, list[str]] = {}
    total = 0
    for path in sorted(folder.glob("entities-*.yaml")):
        for entity in yaml.safe_load_all(path.read_text()):
            total += 1
            spec = entity.get("spec") or {}
            ref = f"{entity['kind']}:default/{entity['metadata']['name']}".lower()
            if isinstance(spec.get("owner"), str):
                owner = spec["owner"]
                owners[owner if ":" in owner else f"group:default/{owner}".lower()] += 1
            if entity["kind"] == "User":
                members[ref] = [
                    group if ":" in group else f"group:default/{group}".lower()
                    for group in spec.get("memberOf") or []
                ]
    best = min(
        members.items(),
        key=lambda item: abs(sum(owners[r] for r in [item[0], *item[1]]) / total - 0.02),
    )
    refs = [best[0], *best[1]]
    return best[0], refs, sum(owners[r] for r in refs) / total


def catalog_config(
    port: int, database: dict[str, Any], token: str, static_port: int, permission_url: str
) -> dict[str, Any]:
    config = compare.backend_config(port, database, token, static_port)
    config["backend"]["logging"] = {"level": "warn", "format": "json"}
    # user tokens are checked with the keys of plugin `auth`; decisions come from `permission`
    config["discovery"] = {
        "endpoints": [
            {"target": f"{permission_url}/api/{{{{pluginId}}}}", "plugins": ["permission", "auth"]}
        ]
    }
    return config


def unit_run(name: str, workdir: Path, config: dict[str, Any], port: int) -> compare.Run:
    path = workdir / f"app-config.{name}.yaml"
    path.write_text(json.dumps(config, indent=2))
    script = Path(sys.executable).parent / "backstage-py"
    command = [str(script), "start", "--unit", "catalog", "--config", str(path)]
    env = compare.run_environment("warn")
    return compare.Run(name, command, compare.REPO, port, env, workdir / f"{name}.log")


async def wait_ingested(target: load.Target, manifest: load.Manifest, timeout: float) -> float:
    started = time.perf_counter()
    conn = target.connection()
    try:
        while time.perf_counter() - started < timeout:
            seen = await load.count(conn, target.prefix, load.kinds_filter())
            if seen == manifest.entities and not await load.missing_relations(
                conn, target.prefix, manifest
            ):
                return time.perf_counter() - started
            progress(f"ingesting: {seen}/{manifest.entities}")
            await asyncio.sleep(2)
    finally:
        await conn.close()
    raise load.LoadError(f"not ingested in {timeout:.0f} s")


class Tokens(load.Target):
    """A target whose connections each take the next of a list of user tokens."""

    tokens: list[str]

    def connection(self, gzip: bool = False) -> load.Connection:
        token = self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        return load.Connection(self.host, self.port, headers)


def target(port: int, tokens: list[str]) -> load.Target:
    result = Tokens(compare.HOST, port, "/api/catalog", tokens[0])
    object.__setattr__(result, "tokens", list(tokens))
    return result


class OwnedCursors(load.Cursors):
    """`load.py`'s by-query pages with the user's ownership as the caller's own filter."""

    owned = ""

    def path(self) -> str:
        path = super().path()
        return path if self.cursor is not None else path.replace("&limit=", self.owned + "&limit=")


class OwnedWorkloads(load.Workloads):
    """By-query and facets asking for exactly the rows the permission leaves: the same
    result sets as under the policy, without it."""

    def __init__(self, target: load.Target, manifest: load.Manifest, refs: list[str]) -> None:
        super().__init__(target, manifest, 1)
        self.owned = "".join(f",relations.ownedby={quote(ref)}" for ref in refs)
        self.facets += self.owned

    async def by_query(self, conn: load.Connection, rng: random.Random) -> load.Response:
        if id(conn) not in self.cursors:
            state = OwnedCursors(self.prefix, rng)
            state.owned = self.owned
            self.cursors[id(conn)] = state
        return await super().by_query(conn, rng)


async def authorize_calls(permission_port: int) -> int:
    conn = load.Connection(compare.HOST, permission_port, {})
    try:
        return int((await load.get_json(conn, "/api/bench/authorize-count"))["calls"])
    finally:
        await conn.close()


async def rps(
    options: argparse.Namespace, goal: load.Target, workload: load.Workload
) -> tuple[float, int]:
    await load.drive(goal, workload, options.concurrency, options.warmup, False, 1)
    run = await load.drive(goal, workload, options.concurrency, options.duration, False, 2)
    if run.errors:
        raise load.LoadError(f"{workload.name}: {run.errors} failed, first: {run.first_error}")
    return len(run.latencies) / run.elapsed, len(run.latencies)


async def measure(
    options: argparse.Namespace,
    manifest: load.Manifest,
    ports: dict[str, int],
    user_tokens: list[str],
    refs: list[str],
) -> dict[str, Any]:
    off, on = target(ports["off"], user_tokens[:1]), target(ports["on"], user_tokens[:1])
    workloads = {w.name: w for w in load.Workloads(off, manifest, 1).all()}
    same_rows = {w.name: w for w in OwnedWorkloads(off, manifest, refs).all()}
    figures: dict[str, Any] = {}
    requests_on = 0
    calls_before = await authorize_calls(ports["permission"])
    for name in options.workloads.split(","):
        workload = workloads[name]
        runs: dict[str, list[float]] = {"off": [], "on": [], "off_same_rows": []}
        for round_ in range(options.rounds):
            order = ["off", "on", "off_same_rows"]
            order = order[round_ % 3 :] + order[: round_ % 3]
            for mode in order:
                goal = on if mode == "on" else off
                chosen = same_rows[name] if mode == "off_same_rows" else workload
                value, requests = await rps(options, goal, chosen)
                runs[mode].append(round(value, 1))
                requests_on += requests if mode == "on" else 0
                progress(f"{name} round {round_ + 1} {mode}: {value:.1f} req/s")
        off_median, on_median = statistics.median(runs["off"]), statistics.median(runs["on"])
        spread = [
            (max(values) - min(values)) / statistics.median(values) for values in runs.values()
        ]
        same_median = statistics.median(runs["off_same_rows"])
        figures[name] = {
            "off_rps": runs["off"],
            "on_rps": runs["on"],
            "off_same_rows_rps": runs["off_same_rows"],
            "off_median": off_median,
            "on_median": on_median,
            "off_same_rows_median": same_median,
            "ratio": round(on_median / off_median, 3),
            "ratio_same_rows": round(on_median / same_median, 3),
            "noise": round(max(spread), 3),
        }
    one_token_calls = await authorize_calls(ports["permission"]) - calls_before

    # a fresh token per connection: each costs one call (its asks batched), then is cached
    fresh = target(ports["on"], user_tokens[1 : 1 + options.concurrency])
    before = await authorize_calls(ports["permission"])
    _, fresh_requests = await rps(options, fresh, workloads["by_query"])
    fresh_calls = await authorize_calls(ports["permission"]) - before
    return {
        "workloads": figures,
        "round_trips_per_1000": {
            "one_token": round(one_token_calls / max(1, requests_on) * 1000, 3),
            "one_token_calls": one_token_calls,
            "one_token_requests": requests_on,
            "token_per_connection": round(fresh_calls / max(1, fresh_requests) * 1000, 3),
            "token_per_connection_calls": fresh_calls,
            "token_per_connection_requests": fresh_requests,
            "tokens": options.concurrency,
        },
    }


async def permission_work_us(refs: list[str], calls: int = 20000) -> dict[str, float]:
    """CPU per read, in microseconds, of what permissions add to a read once the decision is
    cached for the token: the default permissions service's cached answer (its client warmed
    by one answered ask), and the catalog's side (the decision's predicate, ANDed with the
    caller's filter). In process, without I/O: the part of each request that the HTTP
    figures above measure through the machine's noise."""
    from datetime import UTC, datetime, timedelta

    import httpx
    from backstage_backend_defaults.permissions import (
        DecisionCache,
        DefaultPermissionsService,
        PermissionBackendClient,
    )
    from backstage_backend_plugin_api import (
        BackstageCredentials,
        BackstageUserPrincipal,
        QueryPermissionRequest,
    )
    from backstage_plugin_catalog_backend.permissions import (
        CatalogPermissions,
        catalog_entity_rules,
    )
    from backstage_plugin_catalog_common import catalog_entity_read_permission
    from backstage_plugin_permission_node import create_condition_transformer

    conditions = {
        "rule": "IS_ENTITY_OWNER",
        "resourceType": "catalog-entity",
        "params": {"claims": refs},
    }

    class Answering:
        async def get_plugin_request_token(self, **_: Any) -> Any:
            return type("Token", (), {"token": "t"})()

        async def get_base_url(self, plugin_id: str) -> str:
            return "http://permission"

    async def answer(request: httpx.Request) -> httpx.Response:
        [item] = json.loads(request.content)["items"]
        result = {"id": item["id"], "result": "CONDITIONAL", "pluginId": "catalog",
                  "resourceType": "catalog-entity", "conditions": conditions}  # fmt: skip
        return httpx.Response(200, json={"items": [result]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    client = PermissionBackendClient(
        auth=Answering(),  # type: ignore[arg-type]
        discovery=Answering(),  # type: ignore[arg-type]
        http=lambda: http,
        logger=None,  # type: ignore[arg-type]
        cache=DecisionCache(max_entries=100),
    )
    service = DefaultPermissionsService(enabled=True, client=client)
    credentials = BackstageCredentials(
        BackstageUserPrincipal(refs[0]),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        token="x" * 600,
    )
    ask = [QueryPermissionRequest(catalog_entity_read_permission)]
    [decision] = await service.authorize_conditional(ask, credentials=credentials)
    started = time.perf_counter()
    for _ in range(calls):
        await service.authorize_conditional(ask, credentials=credentials)
    service_us = (time.perf_counter() - started) / calls * 1e6

    class Decided:
        async def authorize_conditional(self, requests: Any, *, credentials: Any) -> Any:
            return [decision]

    catalog = CatalogPermissions(Decided(), create_condition_transformer(catalog_entity_rules()))
    caller_filter = {"kind": "component"}
    started = time.perf_counter()
    for _ in range(calls):
        access = await catalog.entity_access(catalog_entity_read_permission, credentials)
        access.restrict(caller_filter)
    catalog_us = (time.perf_counter() - started) / calls * 1e6
    await http.aclose()
    return {"permissions_service_us": round(service_us, 1), "catalog_us": round(catalog_us, 1)}


async def run(options: argparse.Namespace, workdir: Path, prefix: str) -> dict[str, Any]:
    catalog = generated(options, workdir)
    manifest = load.Manifest.load(catalog)
    user, refs, share = ownership(catalog)
    progress(f"{manifest.entities} entities; user {user} owns {share:.1%} through {refs}")
    postgres = compare.Postgres(options.postgres_url)
    database = {"client": "pg", "connection": postgres.connection(), "prefix": prefix}
    token = secrets.token_hex(16)
    ports = {name: compare.free_port() for name in ("off", "on", "permission")}
    permission_url = f"http://{compare.HOST}:{ports['permission']}"
    (workdir / "users.json").write_text(json.dumps([[user, refs]]))
    (workdir / "policy.json").write_text(json.dumps(POLICY))
    tokens_file = workdir / "tokens.json"
    permission_unit = compare.Run(
        "permission",
        [sys.executable, str(compare.HERE / "_permission_unit.py"),
         "--port", str(ports["permission"]),
         "--catalog-url", f"http://{compare.HOST}:{ports['on']}",
         "--users", str(workdir / "users.json"), "--policy", str(workdir / "policy.json"),
         "--tokens-out", str(tokens_file),
         "--tokens-per-user", str(options.concurrency + 1)],
        compare.REPO, ports["permission"], compare.run_environment("warn"),
        workdir / "permission.log",
    )  # fmt: skip
    units: list[compare.Run] = [permission_unit]
    try:
        with compare.static_server(catalog) as static_port:
            permission_unit.start()
            permission_unit.wait_ready()
            off_config = catalog_config(ports["off"], database, token, static_port, permission_url)
            off = unit_run("catalog-off", workdir, off_config, ports["off"])
            units.append(off)
            off.start()
            off.wait_ready()
            service = load.Target(compare.HOST, ports["off"], "/api/catalog", token)
            conn = service.connection()
            register = f"http://{compare.HOST}:{static_port}/catalog-info.yaml"
            body = msgspec.json.encode({"type": "url", "target": register})
            response = await conn.request("POST", "/api/catalog/locations", body)
            await conn.close()
            if response.status != 201:
                raise load.LoadError(f"POST /locations: HTTP {response.status}")
            ingest_s = await wait_ingested(service, manifest, options.ingest_timeout)
            progress(f"ingested in {ingest_s:.0f} s")
            on_config = catalog_config(ports["on"], database, token, static_port, permission_url)
            on_config["catalog"]["processingInterval"] = False
            on_config["permission"] = {"enabled": True}
            on = unit_run("catalog-on", workdir, on_config, ports["on"])
            units.append(on)
            on.start()
            on.wait_ready()
            user_tokens = json.loads(tokens_file.read_text())[0]
            figures = await measure(options, manifest, ports, user_tokens, refs)
            figures["work_per_read"] = await permission_work_us(refs)
    finally:
        for unit in reversed(units):
            unit.stop()
    met = {name: w["ratio"] >= TARGET_RATIO for name, w in figures["workloads"].items()}
    return {
        "entities": manifest.entities,
        "user": user,
        "owned_share": round(share, 4),
        **figures,
        "target_ratio": TARGET_RATIO,
        "met": met,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=10000)
    parser.add_argument("--catalog", help="a folder generate.py wrote (else one is generated)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BACKSTAGE_TEST_POSTGRES_URL", compare.DEFAULT_POSTGRES))  # fmt: skip
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--ingest-timeout", type=float, default=900.0)
    parser.add_argument("--workloads", default="by_query,facets", help="a subset of these")
    options = parser.parse_args()
    random.seed(1)
    prefix = f"bench_permissions_{os.getpid()}_{secrets.token_hex(3)}_"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-permissions-") as folder:
            result = asyncio.run(run(options, Path(folder), prefix))
    finally:
        dropped = compare.Postgres(options.postgres_url).drop_prefix(prefix)
        progress(f"dropped {', '.join(dropped) or 'no database'}")
    for name, figures in result["workloads"].items():
        progress(
            f"{name}: {figures['on_median']} req/s with the conditional permission, "
            f"{figures['off_median']} without: ratio {figures['ratio']} "
            f"(target {TARGET_RATIO}); against the same rows asked for as the caller's own "
            f"filter ({figures['off_same_rows_median']} req/s): {figures['ratio_same_rows']}; "
            f"noise between rounds up to {figures['noise']:.0%}"
        )
    trips = result["round_trips_per_1000"]
    progress(
        f"permission round trips per 1,000 catalog requests: {trips['one_token']} with one "
        f"token, {trips['token_per_connection']} with a fresh token per connection "
        f"({trips['tokens']} tokens)"
    )
    work = result["work_per_read"]
    progress(
        f"permission work per read with a cached decision: {work['permissions_service_us']} us "
        f"in the permissions service, {work['catalog_us']} us in the catalog (in process)"
    )
    print(json.dumps(result))
    return 0 if all(result["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
