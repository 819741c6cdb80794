"""Every fake satisfies its service Protocol: statically (mypy) and by its members."""

from __future__ import annotations

from typing import Any

from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    AuthService,
    CacheService,
    DatabaseService,
    DiscoveryService,
    HttpAuthService,
    LoggerService,
    PermissionsService,
    QueryPermissionRequest,
    RootConfigService,
    RootLoggerService,
    SchedulerService,
)
from backstage_backend_test_utils import mock_credentials, mock_services
from backstage_plugin_permission_common import (
    AuthorizeResult,
    DefinitivePolicyDecision,
    create_permission,
)


def _members(protocol: type) -> set[str]:
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls is object or cls.__name__ in ("Protocol", "Generic"):
            continue
        names.update(name for name in vars(cls) if not name.startswith("_"))
    return names


def test_every_fake_satisfies_its_protocol() -> None:
    # These annotations are what mypy checks (`mypy libs/backend-test-utils/tests`).
    root_config: RootConfigService = mock_services.root_config({"a": 1})
    root_logger: RootLoggerService = mock_services.root_logger()
    logger: LoggerService = root_logger.child({"plugin": "x"})
    discovery: DiscoveryService = mock_services.discovery()
    auth: AuthService = mock_services.auth()
    http_auth: HttpAuthService = mock_services.http_auth()
    cache: CacheService = mock_services.cache()
    database: DatabaseService = mock_services.database()
    scheduler: SchedulerService = mock_services.scheduler()
    permissions: PermissionsService = mock_services.permissions()
    fakes: list[tuple[type, Any]] = [
        (RootLoggerService, root_logger),
        (LoggerService, logger),
        (DiscoveryService, discovery),
        (AuthService, auth),
        (HttpAuthService, http_auth),
        (CacheService, cache),
        (DatabaseService, database),
        (SchedulerService, scheduler),
        (PermissionsService, permissions),
    ]
    for protocol, fake in fakes:
        members = _members(protocol)
        assert members, protocol
        missing = sorted(name for name in members if not hasattr(fake, name))
        assert missing == [], f"{type(fake).__name__} lacks {missing} of {protocol.__name__}"
    assert root_config.get_number("a") == 1


async def test_mock_discovery_puts_every_plugin_under_api() -> None:
    discovery = mock_services.discovery("http://example.test:7007/")
    assert await discovery.get_base_url("catalog") == "http://example.test:7007/api/catalog"
    assert await discovery.get_external_base_url("a b") == "http://example.test:7007/api/a%20b"
    default = mock_services.discovery()
    assert await default.get_base_url("x") == "http://localhost:0/api/x"


async def test_mock_permissions_answer_as_told_and_record_the_asks() -> None:
    deny = DefinitivePolicyDecision(AuthorizeResult.DENY)
    read = create_permission("x.read", action="read", resource_type="x")
    permissions = mock_services.permissions(lambda permission, ref, credentials: deny)
    user = mock_credentials.user()
    assert await permissions.authorize(
        [AuthorizePermissionRequest(read, "x:a")], credentials=user
    ) == [deny]
    assert await permissions.authorize_conditional(
        [QueryPermissionRequest(read)], credentials=user
    ) == [deny]
    assert permissions.asked == [("x.read", "x:a"), ("x.read", None)]
