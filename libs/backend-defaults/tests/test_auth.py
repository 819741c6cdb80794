"""Service-to-service auth over real HTTP between two backends sharing one Postgres.

Backend one hosts the `caller` plugin, backend two the `callee` plugin; discovery points
each plugin id at the backend hosting it. Each plugin's keys live in its own database.
Both backends log JSON at debug level into buffers, which must never hold a token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from backstage_backend_defaults.auth import (
    DefaultAuthService,
    ExternalTokens,
    auth_service_factory,
    http_auth_service_factory,
    read_external_access,
    read_key_duration,
    read_user_token_max_lifetime,
)
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_plugin_api import (
    AccessRestrictions,
    BackstageCredentials,
    BackstageServicePrincipal,
    BackstageUserPrincipal,
    PluginRegistrationPoints,
    ServiceFactory,
    core_services,
    create_backend_plugin,
    create_service_factory,
)
from backstage_backend_test_utils import (
    TestBackend,
    deep_merge,
    postgres_database_config,
)
from backstage_backend_test_utils import start_test_backend as start
from backstage_common import errors
from backstage_common.config import Config
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from litestar import Request, get

STATIC_TOKEN = "static-token-for-everything"
CALLER_ONLY_TOKEN = "static-token-for-caller-only"
LEGACY_SECRET = base64.b64encode(b"a legacy shared secret of enough length").decode()


def describe(principal: Any) -> dict[str, Any]:
    if isinstance(principal, BackstageUserPrincipal):
        actor = principal.actor.subject if principal.actor is not None else None
        return {"type": "user", "userEntityRef": principal.user_entity_ref, "actor": actor}
    return {"type": principal.type, "subject": getattr(principal, "subject", None)}


def whoami_plugin(plugin_id: str) -> Any:
    """A plugin answering with the caller's principal; `/forward` calls `callee` in turn;
    `/cookie/whoami` also accepts the `backstage-auth` cookie."""

    def register(env: PluginRegistrationPoints) -> None:
        async def init(
            router: core_services.HttpRouter,
            http_auth: core_services.HttpAuth,
            auth: core_services.Auth,
            discovery: core_services.Discovery,
        ) -> None:
            @get("/whoami")
            async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
                return describe((await http_auth.credentials(request)).principal)

            @get("/cookie/whoami")
            async def cookie_whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
                credentials = await http_auth.credentials(request, allow_limited_access=True)
                return describe(credentials.principal)

            @get("/forward")
            async def forward(request: Request[Any, Any, Any]) -> dict[str, Any]:
                credentials = await http_auth.credentials(request, allow=["service", "user"])
                token = await auth.get_plugin_request_token(
                    on_behalf_of=credentials, target_plugin_id="callee"
                )
                async with httpx.AsyncClient() as client:
                    response = await client.get(
                        f"{await discovery.get_base_url('callee')}/whoami",
                        headers={"Authorization": f"Bearer {token.token}"},
                    )
                return {"status": response.status_code, "body": response.json()}

            router.use(whoami, cookie_whoami, forward)
            router.add_auth_policy(path="/cookie", allow="user-cookie")

        env.register_init(init)

    return create_backend_plugin(plugin_id=plugin_id, register=register)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Logs:
    lines: list[bytes] = field(default_factory=list)

    def factory(self) -> ServiceFactory[Any]:
        def create(config: core_services.RootConfig) -> Any:
            return create_root_logger(config, write=self.lines.append, env={})

        return create_service_factory(service=core_services.root_logger, factory=create)

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for chunk in self.lines for line in chunk.splitlines() if line]

    def text(self) -> str:
        return b"".join(self.lines).decode()


@dataclass
class Pair:
    one: TestBackend
    two: TestBackend
    logs_one: Logs
    logs_two: Logs

    async def caller_auth(self) -> DefaultAuthService:
        auth = await self.one.get_service(core_services.auth, "caller")
        assert isinstance(auth, DefaultAuthService)
        return auth

    async def token_for(self, target: str = "callee") -> str:
        auth = await self.caller_auth()
        credentials = await auth.get_own_service_credentials()
        issued = await auth.get_plugin_request_token(
            on_behalf_of=credentials, target_plugin_id=target
        )
        return issued.token

    async def call_callee(self, token: str | None) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return await self.two.client.get("/api/callee/whoami", headers=headers)

    def jwks_fetches_from_one(self) -> int:
        return sum(
            1
            for entry in self.logs_one.entries()
            if entry.get("url") == "/api/caller/.backstage/auth/v1/jwks.json"
        )

    def assert_not_logged(self, *secrets: str) -> None:
        logged = self.logs_one.text() + self.logs_two.text()
        assert logged  # the backends did log (requests at least)
        for secret in (*secrets, STATIC_TOKEN, CALLER_ONLY_TOKEN, LEGACY_SECRET):
            assert secret
            assert secret not in logged
            for part in secret.split("."):  # nor any part of a JWT (e.g. its signature)
                if len(part) > 16:
                    assert part not in logged


@pytest.fixture
async def pg_database() -> AsyncIterator[dict[str, Any]]:
    """`backend.database` on the test Postgres with a unique prefix, dropped afterwards."""
    async with postgres_database_config("auth") as database:
        yield database


async def start_pair(
    database: dict[str, Any],
    extra: dict[str, Any] | None = None,
    caller: Any = None,
    also_on_one: tuple[Any, ...] = (),
) -> Any:
    """Backend two (`callee`) starts first, then backend one (`caller`, or the given plugin)."""
    ports = free_port(), free_port()
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    shared: dict[str, Any] = {
        "backend": {
            "database": database,
            "logging": {"level": "debug", "format": "json"},
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": STATIC_TOKEN, "subject": "ci"}},
                    {
                        "type": "static",
                        "options": {"token": CALLER_ONLY_TOKEN, "subject": "narrow"},
                        "accessRestrictions": [{"plugin": "caller"}],
                    },
                    {
                        "type": "legacy",
                        "options": {"secret": LEGACY_SECRET, "subject": "old-script"},
                    },
                ]
            },
        },
        "discovery": {
            "endpoints": [
                {
                    "target": f"{bases[0]}/api/{{{{pluginId}}}}",
                    "plugins": ["caller", "other", "auth"],
                },
                {"target": f"{bases[1]}/api/{{{{pluginId}}}}", "plugins": ["callee"]},
            ]
        },
    }
    shared = deep_merge(shared, extra or {})
    logs = Logs(), Logs()
    stack = AsyncExitStack()
    backends: dict[int, TestBackend] = {}
    plugins = [caller or whoami_plugin("caller"), whoami_plugin("callee")]
    for index in (1, 0):
        config = deep_merge(
            shared,
            {"backend": {"baseUrl": bases[index], "listen": {"port": ports[index]}}},
        )
        features = [
            auth_service_factory,
            http_auth_service_factory,
            logs[index].factory(),
            plugins[index],
            *(also_on_one if index == 0 else ()),
        ]
        backends[index] = await stack.enter_async_context(start(features=features, config=config))
    return stack, Pair(backends[0], backends[1], logs[0], logs[1])


@pytest.fixture
async def pair(pg_database: dict[str, Any]) -> AsyncIterator[Pair]:
    stack, started = await start_pair(pg_database)
    async with stack:
        yield started


def error_body(response: httpx.Response, status: int) -> dict[str, Any]:
    """Backstage's error body, checked for shape; returns its `error` part."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request", "response"}
    assert body["request"] == {"method": "GET", "url": "/whoami"}
    assert body["response"] == {"statusCode": status}
    assert body["error"]["name"] == {401: "AuthenticationError", 403: "NotAllowedError"}[status]
    error: dict[str, Any] = body["error"]
    return error


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {"sub": "caller", "aud": "callee", "iat": now, "exp": now + 3600, **overrides}


def foreign_token(kid: str, **overrides: Any) -> str:
    """A well-formed plugin token signed by a key nobody published."""
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(
        claims(**overrides),
        key,
        algorithm="ES256",
        headers={"typ": "vnd.backstage.plugin", "kid": kid},
    )


async def test_a_plugin_token_is_accepted_across_backends(pair: Pair) -> None:
    token = await pair.token_for("callee")
    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "ES256"
    assert header["typ"] == "vnd.backstage.plugin"
    assert payload["sub"] == "caller"
    assert payload["aud"] == "callee"
    assert payload["exp"] - payload["iat"] == 3600

    response = await pair.call_callee(token)
    assert response.status_code == 200
    assert response.json() == {"type": "service", "subject": "plugin:caller"}
    # the caller publishes the key it signed with, openly
    jwks = (await pair.one.client.get("/api/caller/.backstage/auth/v1/jwks.json")).json()
    assert [key["kid"] for key in jwks["keys"]] == [header["kid"]]
    assert set(jwks["keys"][0]) >= {"kty", "crv", "x", "y", "kid", "alg"}
    assert "d" not in jwks["keys"][0]  # never the private part
    pair.assert_not_logged(token)


async def test_a_plugin_forwards_its_callers_credentials_as_its_own_token(pair: Pair) -> None:
    response = await pair.one.client.get(
        "/api/caller/forward", headers={"Authorization": f"Bearer {STATIC_TOKEN}"}
    )
    assert response.json() == {
        "status": 200,
        "body": {"type": "service", "subject": "plugin:caller"},
    }
    pair.assert_not_logged()


async def test_bad_tokens_get_401_with_backstage_error_body(pair: Pair) -> None:
    auth = await pair.caller_auth()
    valid = await pair.token_for("callee")
    kid = jwt.get_unverified_header(valid)["kid"]
    await pair.call_callee(valid)  # the callee now knows the caller's keys
    expired = await auth.plugin_tokens.issue_token(
        "callee", issued_at=datetime.now(UTC) - timedelta(hours=2)
    )
    other_audience = await pair.token_for("other")
    head, body, signature = valid.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = f"{head}.{body}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
    forged_claims = f"{head}.{b64(claims(sub='caller', aud='callee', x=1))}.{signature}"
    unknown_issuer = foreign_token(str(uuid.uuid4()), sub="ghost")
    alg_none = f"{b64({'alg': 'none', 'typ': 'vnd.backstage.plugin', 'kid': kid})}.{b64(claims())}."
    alg_hs256 = jwt.encode(
        claims(),
        "not the key, but long enough for HS256",
        algorithm="HS256",
        headers={"typ": "vnd.backstage.plugin", "kid": kid},
    )
    failed = "Failed plugin token verification"
    wrong_alg = "Invalid plugin token: unexpected signing algorithm"
    cases = {
        expired: failed,
        other_audience: failed,
        tampered: failed,
        forged_claims: failed,
        unknown_issuer: "Received a plugin token where the source 'ghost' plugin "
        "unexpectedly does not have a JWKS endpoint",
        alg_none: wrong_alg,
        alg_hs256: wrong_alg,
        "garbage-garbage": "Illegal token",
        "eyJ.eyJ.x": "Illegal token",
    }
    for token, message in cases.items():
        assert error_body(await pair.call_callee(token), 401)["message"] == message
    assert error_body(await pair.call_callee(None), 401)["message"] == "Missing credentials"
    assert (await pair.call_callee(valid)).status_code == 200  # the valid one still works
    pair.assert_not_logged(valid, *cases)


async def test_unknown_key_ids_refetch_the_issuers_keys_a_bounded_number_of_times(
    pair: Pair,
) -> None:
    valid = await pair.token_for("callee")
    assert (await pair.call_callee(valid)).status_code == 200
    assert pair.jwks_fetches_from_one() == 1
    garbage = [foreign_token(str(uuid.uuid4())) for _ in range(30)]
    responses = await asyncio.gather(*(pair.call_callee(token) for token in garbage))
    assert {response.status_code for response in responses} == {401}
    assert 1 < pair.jwks_fetches_from_one() <= 10  # ten a minute, whatever the callers send
    assert (await pair.call_callee(valid)).status_code == 200  # known keys need no fetch
    pair.assert_not_logged(valid, *garbage)


async def test_static_tokens_and_their_plugin_restrictions(pair: Pair) -> None:
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    everywhere = await pair.two.client.get("/api/callee/whoami", headers=bearer(STATIC_TOKEN))
    assert everywhere.json() == {"type": "service", "subject": "ci"}
    allowed = await pair.one.client.get("/api/caller/whoami", headers=bearer(CALLER_ONLY_TOKEN))
    assert allowed.json() == {"type": "service", "subject": "narrow"}
    refused = await pair.two.client.get("/api/callee/whoami", headers=bearer(CALLER_ONLY_TOKEN))
    error = error_body(refused, 403)
    assert error["message"] == "This token's access is restricted to plugin(s) 'caller'"
    pair.assert_not_logged()


async def test_legacy_tokens_signed_with_the_shared_secret(pair: Pair) -> None:
    secret = base64.b64decode(LEGACY_SECRET)
    now = int(datetime.now(UTC).timestamp())
    good = jwt.encode({"sub": "backstage-server", "exp": now + 60}, secret, algorithm="HS256")
    expired = jwt.encode({"sub": "backstage-server", "exp": now - 60}, secret, algorithm="HS256")
    wrong = jwt.encode({"sub": "backstage-server", "exp": now + 60}, b"x" * 32, algorithm="HS256")
    accepted = await pair.call_callee(good)
    assert accepted.json() == {"type": "service", "subject": "old-script"}
    error_body(await pair.call_callee(expired), 401)
    assert error_body(await pair.call_callee(wrong), 401)["message"] == "Illegal token"
    pair.assert_not_logged(good, expired, wrong)


async def test_health_and_public_keys_are_open(pair: Pair) -> None:
    live = await pair.two.client.get("/.backstage/health/v1/liveness")
    ready = await pair.two.client.get("/.backstage/health/v1/readiness")
    jwks = await pair.two.client.get("/api/callee/.backstage/auth/v1/jwks.json")
    assert (live.status_code, ready.status_code, jwks.status_code) == (200, 200, 200)
    assert jwks.json() == {"keys": []}  # a plugin that never called anyone has no keys


async def test_key_rotation_keeps_tokens_in_flight_valid(pg_database: dict[str, Any]) -> None:
    rotation = {"backend": {"auth": {"pluginKeyStore": {"keyDuration": "1s"}}}}
    stack, pair = await start_pair(pg_database, rotation)
    async with stack:
        first = await pair.token_for("callee")
        assert (await pair.call_callee(first)).status_code == 200
        await asyncio.sleep(1.2)  # past the key duration: the next token needs a new key
        second = await pair.token_for("callee")

        def kid(token: str) -> str:
            return jwt.get_unverified_header(token)["kid"]

        assert kid(first) != kid(second)
        # the callee learns the new key and still accepts tokens signed with the old one
        assert (await pair.call_callee(second)).json()["subject"] == "plugin:caller"
        assert (await pair.call_callee(first)).json()["subject"] == "plugin:caller"
        jwks = (await pair.one.client.get("/api/caller/.backstage/auth/v1/jwks.json")).json()
        assert {key["kid"] for key in jwks["keys"]} == {kid(first), kid(second)}
        pair.assert_not_logged(first, second)


async def test_keys_live_in_the_plugins_own_database(
    pair: Pair, pg_database: dict[str, Any]
) -> None:
    token = await pair.token_for("callee")
    connection = pg_database["connection"]
    conn = await asyncpg.connect(database=f"{pg_database['prefix']}caller", **connection)
    try:
        rows = await conn.fetch(
            "SELECT id, key, expires_at FROM backstage_backend_public_keys__keys"
        )
    finally:
        await conn.close()
    assert [row["id"] for row in rows] == [jwt.get_unverified_header(token)["kid"]]
    stored = json.loads(rows[0]["key"])
    assert stored["kty"] == "EC"
    assert "d" not in stored
    expires_at = datetime.fromisoformat(rows[0]["expires_at"].replace("Z", "+00:00"))
    assert expires_at > datetime.now(UTC) + timedelta(hours=2)  # outlives its tokens
    # the callee never issued a token: it has no key table, not even a database
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        names = [
            row[0]
            for row in await admin.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1",
                pg_database["prefix"] + "%",
            )
        ]
    finally:
        await admin.close()
    assert names == [f"{pg_database['prefix']}caller"]


async def test_replicas_of_a_plugin_share_their_public_keys(pg_database: dict[str, Any]) -> None:
    stack, pair = await start_pair(pg_database)
    async with stack:
        # a second replica of `caller` on its own port, same database; discovery still
        # sends the callee to the first replica for the caller's keys
        port = free_port()
        replica_config = deep_merge(
            dict(pair.one.config),
            {"backend": {"baseUrl": f"http://127.0.0.1:{port}", "listen": {"port": port}}},
        )
        replica = await stack.enter_async_context(
            start(
                features=[
                    auth_service_factory,
                    http_auth_service_factory,
                    Logs().factory(),
                    whoami_plugin("caller"),
                ],
                config=replica_config,
            )
        )
        auth = await replica.get_service(core_services.auth, "caller")
        token = await auth.get_plugin_request_token(
            on_behalf_of=await auth.get_own_service_credentials(), target_plugin_id="callee"
        )
        response = await pair.call_callee(token.token)
        assert response.json() == {"type": "service", "subject": "plugin:caller"}
        pair.assert_not_logged(token.token)


async def test_requests_without_policy_and_tokens_for_other_principals() -> None:
    logs = Logs()
    config = {
        "backend": {
            "logging": {"level": "info", "format": "json"},
            "auth": {"dangerouslyDisableDefaultAuthPolicy": True},
        }
    }
    features = [
        auth_service_factory,
        http_auth_service_factory,
        logs.factory(),
        whoami_plugin("caller"),
    ]
    async with start(features=features, config=config) as backend:
        open_route = await backend.client.get("/api/caller/whoami")
        auth = await backend.get_service(core_services.auth, "caller")
        none = await auth.get_plugin_request_token(
            on_behalf_of=await auth.get_none_credentials(), target_plugin_id="callee"
        )
        tokenless = BackstageCredentials(BackstageUserPrincipal("user:default/jane"))
        with pytest.raises(errors.AuthenticationError, match="unexpectedly missing token"):
            await auth.get_plugin_request_token(on_behalf_of=tokenless, target_plugin_id="b")
        restricted = BackstageCredentials(
            BackstageServicePrincipal("narrow", AccessRestrictions(permission_names=("x",)))
        )
        with pytest.raises(errors.NotAllowedError):
            await auth.get_plugin_request_token(on_behalf_of=restricted, target_plugin_id="b")
    assert open_route.json() == {"type": "none", "subject": None}
    assert none.token == ""  # unauthenticated calls are forwarded as such
    warnings = [entry["message"] for entry in logs.entries() if entry["level"] == "warn"]
    assert any("default auth policy is disabled" in message for message in warnings)


async def test_none_credentials_get_no_token_while_the_policy_is_on() -> None:
    async with start(features=[auth_service_factory, http_auth_service_factory]) as backend:
        auth = await backend.get_service(core_services.auth, "test")
        with pytest.raises(errors.AuthenticationError, match="credential type 'none'"):
            await auth.get_plugin_request_token(
                on_behalf_of=await auth.get_none_credentials(), target_plugin_id="b"
            )


@pytest.mark.parametrize(
    ("auth_config", "message"),
    [
        ({"pluginKeyStore": {"type": "static"}}, "Unsupported backend.auth.pluginKeyStore.type"),
        ({"pluginKeyStore": {"keyDuration": "10ms"}}, "at least one second"),
        (
            {"externalAccess": [{"type": "jwks", "options": {"url": "http://x"}}]},
            "Unsupported external access type 'jwks'",
        ),
        (
            {"externalAccess": [{"type": "static", "options": {"token": "short", "subject": "s"}}]},
            "at least 8 characters",
        ),
        (
            {"externalAccess": [{"type": "legacy", "options": {"secret": "no*t", "subject": "s"}}]},
            "Illegal secret",
        ),
        (
            {
                "externalAccess": [
                    {
                        "type": "static",
                        "options": {"token": "long-enough", "subject": "s"},
                        "accessRestrictions": [{"plugin": "a", "scope": "x"}],
                    }
                ]
            },
            "Unknown key(s) scope",
        ),
    ],
)
def test_bad_auth_config_is_a_clear_error(auth_config: dict[str, Any], message: str) -> None:
    config = Config.from_data({"backend": {"auth": auth_config}})

    def read_all() -> None:
        read_key_duration(config)
        read_external_access(config)

    with pytest.raises(errors.InputError) as caught:
        read_all()
    assert message in str(caught.value)


async def test_a_plugin_calling_another_while_it_starts_is_verified(
    pg_database: dict[str, Any],
) -> None:
    """The callee fetches the caller's keys while the caller is still in its init: the
    public keys are served before the plugin has started (other routes wait)."""
    answers: list[Any] = []

    def register(env: PluginRegistrationPoints) -> None:
        async def init(auth: core_services.Auth, discovery: core_services.Discovery) -> None:
            token = await auth.get_plugin_request_token(
                on_behalf_of=await auth.get_own_service_credentials(), target_plugin_id="callee"
            )
            async with httpx.AsyncClient() as client:
                response = await client.get(
                    f"{await discovery.get_base_url('callee')}/whoami",
                    headers={"Authorization": f"Bearer {token.token}"},
                )
            answers.append((response.status_code, response.json()))

        env.register_init(init)

    calling_at_init = create_backend_plugin(plugin_id="caller", register=register)
    stack, _ = await start_pair(pg_database, caller=calling_at_init)
    async with stack:
        pass
    assert answers == [(200, {"type": "service", "subject": "plugin:caller"})]


class FakeAuthBackend:
    """Stands in for the auth backend: publishes its key and signs user tokens as it does,
    with the limited form's signature in the `uip` claim."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = str(uuid.uuid4())

    def plugin(self) -> Any:
        jwk = {
            **ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True),
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        }

        def register(env: PluginRegistrationPoints) -> None:
            async def init(router: core_services.HttpRouter) -> None:
                @get("/.well-known/jwks.json")
                async def jwks() -> dict[str, Any]:
                    return {"keys": [jwk]}

                router.use(jwks)
                router.add_auth_policy(path="/.well-known", allow="unauthenticated")

            env.register_init(init)

        return create_backend_plugin(plugin_id="auth", register=register)

    def tokens(self, ref: str, *, lifetime: int = 3600, key: Any = None) -> tuple[str, str]:
        """A user token and the limited token the auth backend pre-signed for it."""
        key = key or self.key
        iat = int(datetime.now(UTC).timestamp())
        exp = iat + lifetime
        limited_payload = json.dumps(
            {"sub": ref, "iat": iat, "exp": exp}, separators=(",", ":")
        ).encode()
        limited = jwt.api_jws.PyJWS().encode(
            limited_payload,
            key,
            algorithm="ES256",
            headers={"typ": "vnd.backstage.limited-user", "kid": self.kid},
            sort_headers=False,
        )
        full = jwt.encode(
            {
                "iss": "http://auth",
                "sub": ref,
                "ent": [ref],
                "aud": "backstage",
                "iat": iat,
                "exp": exp,
                "uip": limited.split(".")[2],
            },
            key,
            algorithm="ES256",
            headers={"typ": "vnd.backstage.user", "kid": self.kid},
        )
        return full, limited


@pytest.fixture
async def with_users(pg_database: dict[str, Any]) -> AsyncIterator[tuple[Pair, FakeAuthBackend]]:
    fake = FakeAuthBackend()
    stack, started = await start_pair(pg_database, also_on_one=(fake.plugin(),))
    async with stack:
        yield started, fake


async def test_user_tokens_and_calls_on_behalf_of_a_user(
    with_users: tuple[Pair, FakeAuthBackend],
) -> None:
    pair, fake = with_users
    full, limited = fake.tokens("user:default/jane")
    jane = {"type": "user", "userEntityRef": "user:default/jane", "actor": None}
    assert (await pair.call_callee(full)).json() == jane
    # the caller forwards the user: the callee sees the user, with the caller as actor
    forwarded = await pair.one.client.get(
        "/api/caller/forward", headers={"Authorization": f"Bearer {full}"}
    )
    assert forwarded.json() == {"status": 200, "body": {**jane, "actor": "plugin:caller"}}
    # that plugin token carries the user's limited token, and expires no later than it
    auth = await pair.caller_auth()
    credentials = await auth.authenticate(full)
    assert (await auth.get_limited_user_token(credentials)).token == limited
    obo = await auth.get_plugin_request_token(on_behalf_of=credentials, target_plugin_id="callee")
    claims_ = jwt.decode(obo.token, options={"verify_signature": False})
    assert claims_["obo"] == limited
    assert claims_["exp"] <= jwt.decode(full, options={"verify_signature": False})["exp"]
    pair.assert_not_logged(full, limited, obo.token)


async def test_limited_user_tokens_only_where_a_cookie_is_allowed(
    with_users: tuple[Pair, FakeAuthBackend],
) -> None:
    pair, fake = with_users
    full, limited = fake.tokens("user:default/jane")
    refused = await pair.call_callee(limited)
    assert error_body(refused, 401)["message"] == "Illegal limited user token"
    # the cookie endpoint sets the limited token as `backstage-auth`
    issued = await pair.two.client.get(
        "/api/callee/.backstage/auth/v1/cookie", headers={"Authorization": f"Bearer {full}"}
    )
    assert issued.status_code == 200
    expires_at = jwt.decode(full, options={"verify_signature": False})["exp"]
    assert issued.json() == {
        "expiresAt": datetime.fromtimestamp(expires_at, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    }
    set_cookie = issued.headers["set-cookie"]
    assert set_cookie.startswith(f"backstage-auth={limited};")
    assert "HttpOnly" in set_cookie
    assert "Domain=127.0.0.1" in set_cookie
    cookie = {"Cookie": f"backstage-auth={limited}"}
    by_cookie = await pair.two.client.get("/api/callee/cookie/whoami", headers=cookie)
    assert by_cookie.json()["userEntityRef"] == "user:default/jane"
    no_cookie_here = await pair.two.client.get("/api/callee/whoami", headers=cookie)
    assert error_body(no_cookie_here, 401)["message"] == "Missing credentials"
    cleared = await pair.two.client.delete(
        "/api/callee/.backstage/auth/v1/cookie", headers={"Authorization": f"Bearer {full}"}
    )
    assert cleared.status_code == 204
    assert cleared.headers["set-cookie"].startswith('backstage-auth="";')
    pair.assert_not_logged(full, limited)


async def test_bad_user_tokens_get_401(with_users: tuple[Pair, FakeAuthBackend]) -> None:
    pair, fake = with_users
    expired, _ = fake.tokens("user:default/jane", lifetime=-60)
    foreign, _ = fake.tokens("user:default/jane", key=ec.generate_private_key(ec.SECP256R1()))
    hs256 = jwt.encode(
        {"sub": "user:default/jane", "iat": 1, "exp": 2**31},
        "a shared secret that is long enough",
        algorithm="HS256",
        headers={"typ": "vnd.backstage.user", "kid": fake.kid},
    )
    cases = {
        expired: "Failed user token verification",
        foreign: "Failed user token verification",
        hs256: "Invalid user token: unexpected signing algorithm",
    }
    for token, message in cases.items():
        assert error_body(await pair.call_callee(token), 401)["message"] == message
    pair.assert_not_logged(*cases)


def test_the_deprecated_backend_auth_keys_are_legacy_secrets() -> None:
    secret = b"an old shared secret of enough length!"
    config = Config.from_data(
        {"backend": {"auth": {"keys": [{"secret": base64.b64encode(secret).decode()}]}}}
    )
    tokens = ExternalTokens(read_external_access(config))
    exp = int(datetime.now(UTC).timestamp()) + 60
    token = jwt.encode({"sub": "backstage-server", "exp": exp}, secret, algorithm="HS256")
    entry = tokens.verify(token)
    assert entry is not None
    assert entry.subject == "external:backstage-plugin"
    with_audience = jwt.encode(
        {"sub": "backstage-server", "exp": exp, "aud": "x"}, secret, algorithm="HS256"
    )
    assert tokens.verify(with_audience) is None  # not shaped like a legacy token


def now_s() -> int:
    return int(datetime.now(UTC).timestamp())


async def test_plugin_tokens_signed_with_the_callers_real_key_but_bad_claims_get_401(
    pair: Pair,
) -> None:
    """Each token below is signed with the caller's own published key, as a caller that
    leaked its key or misuses it could make them: only the claims are wrong."""
    auth = await pair.caller_auth()
    key = await auth.plugin_tokens._keys.signing_key()
    now = now_s()

    def signed(payload: dict[str, Any], typ: str = "vnd.backstage.plugin") -> str:
        return jwt.encode(
            payload, key.private_key, algorithm="ES256", headers={"typ": typ, "kid": key.kid}
        )

    def without(name: str) -> dict[str, Any]:
        return {k: v for k, v in claims().items() if k != name}

    good = signed(claims())
    skewed = signed(claims(iat=now + 30, exp=now + 3630))  # a host's clock a little ahead
    assert (await pair.call_callee(good)).json() == {"type": "service", "subject": "plugin:caller"}
    assert (await pair.call_callee(skewed)).status_code == 200
    failed = "Failed plugin token verification"
    cases = {
        "lives two hours": (signed(claims(exp=now + 7200)), "Invalid plugin token: it lives "),
        "lives a year": (
            signed(claims(iat=now - 60, exp=now + 365 * 86400)),
            "Invalid plugin token: it lives ",
        ),
        "old iat, long life": (
            signed(claims(iat=now - 7200, exp=now + 600)),
            "Invalid plugin token: it lives ",
        ),
        "issued in the future": (
            signed(claims(iat=now + 600, exp=now + 1200)),
            "Invalid plugin token: it was issued in the future",
        ),
        "no exp": (signed(without("exp")), failed),
        "no iat": (signed(without("iat")), failed),
        "exp a numeric string": (
            signed(claims(exp=str(now + 600))),
            "Invalid plugin token: exp must be a number",
        ),
        "exp a float string": (signed(claims(exp=f"{now + 600}.5")), failed),
        "iat a string": (
            signed(claims(iat=str(now))),
            "Invalid plugin token: iat must be a number",
        ),
        "nbf a string": (
            signed(claims(nbf=str(now))),
            "Invalid plugin token: nbf must be a number",
        ),
        "aud a list": (
            signed(claims(aud=["callee"])),
            "Invalid plugin token: aud must be a string",
        ),
        "aud a number": (signed(claims(aud=7)), failed),
        "sub a number": (signed(claims(sub=7)), "Invalid plugin token: missing subject"),
        "obo a number": (signed(claims(obo=7)), "Invalid plugin token: obo must be a string"),
        "obo an object": (
            signed(claims(obo={"sub": "user:default/jane"})),
            "Invalid plugin token: obo must be a string",
        ),
        "typ of another kind": (signed(claims(), typ="JWT"), "Illegal token"),
        "typ with a space": (signed(claims(), typ="vnd.backstage.plugin "), "Illegal token"),
    }
    for name, (token, message) in cases.items():
        error = error_body(await pair.call_callee(token), 401)
        assert error["message"].startswith(message), (name, error["message"])
    assert (await pair.call_callee(good)).status_code == 200
    pair.assert_not_logged(good, skewed, *(token for token, _ in cases.values()))


def user_token(
    fake: FakeAuthBackend,
    payload: dict[str, Any],
    typ: str | None = "vnd.backstage.user",
) -> str:
    """Signed as given: PyJWS, since `jwt.encode` itself refuses some of the bad claims."""
    headers = {"kid": fake.kid} if typ is None else {"typ": typ, "kid": fake.kid}
    raw = json.dumps(payload).encode()
    return jwt.api_jws.PyJWS().encode(raw, fake.key, algorithm="ES256", headers=headers)


def user_claims(**overrides: Any) -> dict[str, Any]:
    now = now_s()
    return {
        "iss": "http://auth",
        "sub": "user:default/jane",
        "aud": "backstage",
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }


async def test_user_tokens_signed_by_the_auth_backend_but_bad_claims_get_401(
    with_users: tuple[Pair, FakeAuthBackend],
) -> None:
    pair, fake = with_users
    now = now_s()
    day = 86400
    good = user_token(fake, user_claims(ent=["user:default/jane", "group:default/team"]))
    a_day = user_token(fake, user_claims(exp=now + day))  # Backstage's longest session
    legacy = user_token(fake, user_claims(), typ=None)
    for token in (good, a_day, legacy):
        assert (await pair.call_callee(token)).json()["userEntityRef"] == "user:default/jane"
    failed = "Failed user token verification"
    lives = "Invalid user token: it lives "
    cases = {
        "lives a day and a minute": (user_token(fake, user_claims(exp=now + day + 60)), lives),
        "lives a year": (user_token(fake, user_claims(exp=now + 365 * day)), lives),
        "limited, lives a year": (
            user_token(
                fake,
                {"sub": "user:default/jane", "iat": now, "exp": now + 365 * day},
                typ="vnd.backstage.limited-user",
            ),
            lives,
        ),
        "legacy, lives a year": (
            user_token(fake, user_claims(exp=now + 365 * day), typ=None),
            lives,
        ),
        "issued in the future": (
            user_token(fake, user_claims(iat=now + 600, exp=now + 1200)),
            "Invalid user token: it was issued in the future",
        ),
        "no exp": (user_token(fake, {"sub": "user:default/jane", "iat": now}), failed),
        "no iat": (user_token(fake, {"sub": "user:default/jane", "exp": now + 60}), failed),
        "legacy, no iat": (
            user_token(
                fake, {"sub": "user:default/jane", "aud": "backstage", "exp": now + 60}, None
            ),
            failed,
        ),
        "exp a numeric string": (
            user_token(fake, user_claims(exp=str(now + 600))),
            "Invalid user token: exp must be a number",
        ),
        "iat a string": (
            user_token(fake, user_claims(iat=str(now))),
            "Invalid user token: iat must be a number",
        ),
        "sub a number": (user_token(fake, user_claims(sub=7)), failed),
        "sub a list": (user_token(fake, user_claims(sub=["user:default/jane"])), failed),
        "aud a list": (
            user_token(fake, user_claims(aud=["backstage"])),
            "Invalid user token: aud must be a string",
        ),
        "legacy, aud a list": (
            user_token(fake, user_claims(aud=["backstage", "other"]), typ=None),
            "Illegal token",  # not shaped like a legacy user token at all
        ),
        "ent a string": (
            user_token(fake, user_claims(ent="user:default/jane")),
            "Invalid user token: ent must be a list of strings",
        ),
        "ent holding a number": (
            user_token(fake, user_claims(ent=["user:default/jane", 7])),
            "Invalid user token: ent must be a list of strings",
        ),
        "iss a number": (
            user_token(fake, user_claims(iss=7)),
            "Invalid user token: iss must be a string",
        ),
        "uip a number": (
            user_token(fake, user_claims(uip=7)),
            "Invalid user token: uip must be a string",
        ),
        "typ of another kind, aud backstage": (
            user_token(fake, user_claims(), typ="vnd.backstage.user2"),
            "Illegal token",
        ),
    }
    for name, (token, message) in cases.items():
        error = error_body(await pair.call_callee(token), 401)
        assert error["message"].startswith(message), (name, error["message"])
    pair.assert_not_logged(good, a_day, legacy, *(token for token, _ in cases.values()))


async def test_the_user_token_lifetime_follows_backstage_token_expiration(
    pg_database: dict[str, Any],
) -> None:
    fake = FakeAuthBackend()
    shorter = {"auth": {"backstageTokenExpiration": {"minutes": 30}}}
    stack, pair = await start_pair(pg_database, shorter, also_on_one=(fake.plugin(),))
    async with stack:
        now = now_s()
        half_hour = user_token(fake, user_claims(exp=now + 1800))
        an_hour = user_token(fake, user_claims(exp=now + 3600))
        assert (await pair.call_callee(half_hour)).status_code == 200
        error = error_body(await pair.call_callee(an_hour), 401)
        assert (
            error["message"] == "Invalid user token: it lives longer than the 1800 seconds allowed"
        )


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (None, timedelta(hours=24)),
        ({"minutes": 30}, timedelta(minutes=30)),
        ("1m", timedelta(minutes=10)),  # clamped as Backstage's auth backend clamps it
        ({"days": 7}, timedelta(hours=24)),
    ],
)
def test_the_longest_user_token_lifetime_is_read_and_clamped(
    configured: Any, expected: timedelta
) -> None:
    data = {} if configured is None else {"auth": {"backstageTokenExpiration": configured}}
    assert read_user_token_max_lifetime(Config.from_data(data)) == expected


async def test_legacy_tokens_with_bad_claims_get_401(pair: Pair) -> None:
    secret = base64.b64decode(LEGACY_SECRET)
    now = now_s()

    def legacy(**payload: Any) -> str:
        return jwt.encode({"sub": "backstage-server", **payload}, secret, algorithm="HS256")

    good = legacy(exp=now + 3600)
    with_iat = legacy(iat=now, exp=now + 3600)
    for token in (good, with_iat):
        assert (await pair.call_callee(token)).json()["subject"] == "old-script"
    lives = "Invalid legacy token: it lives longer than the 3600 seconds allowed"
    cases = {
        "valid for two hours": (legacy(exp=now + 7200), lives),
        "valid for a year": (legacy(exp=now + 365 * 86400), lives),
        "old iat, long life": (legacy(iat=now - 7200, exp=now + 600), lives),
        "issued in the future": (
            legacy(iat=now + 600, exp=now + 1200),
            "Invalid legacy token: it was issued in the future",
        ),
        "exp a numeric string": (
            legacy(exp=str(now + 600)),
            "Invalid legacy token: exp must be a number",
        ),
        "iat a string": (
            legacy(iat=str(now), exp=now + 600),
            "Invalid legacy token: iat must be a number",
        ),
        "no exp": (legacy(iat=now), "Invalid legacy token"),
    }
    for name, (token, message) in cases.items():
        error = error_body(await pair.call_callee(token), 401)
        assert error["message"] == message, (name, error["message"])
    pair.assert_not_logged(good, with_iat, *(token for token, _ in cases.values()))


async def test_a_flood_of_bad_tokens_logs_one_warning_and_counts_the_rest(pair: Pair) -> None:
    valid = await pair.token_for("callee")
    await pair.call_callee(valid)
    head, body, signature = valid.split(".")
    for attempt in range(30):
        flipped = "A" if signature[attempt] != "A" else "B"
        bad = f"{head}.{body}.{signature[:attempt]}{flipped}{signature[attempt + 1 :]}"
        assert (await pair.call_callee(bad)).status_code == 401
    warnings = [
        entry
        for entry in pair.logs_two.entries()
        if entry.get("message") == "Failed to verify incoming plugin token"
    ]
    assert len(warnings) == 1, warnings
    assert warnings[0]["error"]["name"] == "InvalidSignatureError"
    assert "stack" not in warnings[0]["error"]
