"""backstage_backend_test_utils: test backends and fake core services for tests.

- `start_test_backend(features=...)`: a real backend on a free local port, as an async
  context manager yielding a `TestBackend` (`backend`, `base_url`, `client`,
  `get_service`), with mock auth so tests send `mock_credentials` headers.
- `mock_services.<name>()` / `mock_services.<name>_factory()`: a working fake of each core
  service and a factory that installs it, after Backstage's `mockServices`.
- `mock_credentials`: credentials, mock tokens and `Authorization` headers.
- `SAMPLE_MIGRATIONS`: the folder of a two-revision Alembic history (`0001`, `0002`), for
  tests of migration tooling.
- `require_service_url(env_name)`: a real Postgres, Redis or memcached for a test: the
  variable's URL, else a testcontainers container where Docker runs, else a skip (a failure
  under `BACKSTAGE_TEST_REQUIRE_SERVICES=1`); `choose_service_source` is that decision.
- `TestUserTokens`: real ES256 user tokens and a plugin `auth` publishing their keys and
  user info, for tests that verify users as a deployed backend does.
- `tcp_fault_proxy(host, port)`: a TCP proxy in front of a real server that a test can make
  refuse connections or blackhole them (a partition), then restore.
- `npm_ci(folder, needed_for)`: `npm ci` from a test folder's committed lock file, skipping
  (failing under `BACKSTAGE_TEST_REQUIRE_SERVICES=1`) when node or npm is missing.
"""

from backstage_backend_test_utils._auth import MockAuthService, MockHttpAuthService
from backstage_backend_test_utils._cache import InMemoryCache, InMemoryCacheStore
from backstage_backend_test_utils._config import deep_merge
from backstage_backend_test_utils._credentials import (
    DEFAULT_MOCK_SERVICE_SUBJECT,
    DEFAULT_MOCK_USER_ENTITY_REF,
    mock_credentials,
)
from backstage_backend_test_utils._database import InMemoryDatabaseService
from backstage_backend_test_utils._discovery import MockDiscovery
from backstage_backend_test_utils._fault_proxy import FaultMode, TcpFaultProxy, tcp_fault_proxy
from backstage_backend_test_utils._logger import CapturingLogger, LogEntry, LogLevel
from backstage_backend_test_utils._mock_services import mock_services
from backstage_backend_test_utils._npm import npm_ci
from backstage_backend_test_utils._permissions import MockPermissionsService
from backstage_backend_test_utils._postgres import postgres_database_config
from backstage_backend_test_utils._sample_migrations import SAMPLE_MIGRATIONS
from backstage_backend_test_utils._scheduler import MockScheduler
from backstage_backend_test_utils._services import (
    CONTAINERS,
    REQUIRE_SERVICES_ENV,
    ContainerSpec,
    ServiceSource,
    choose_service_source,
    docker_engine_running,
    require_service_url,
)
from backstage_backend_test_utils._test_backend import (
    TestBackend,
    service_factories_for_tests,
    start_test_backend,
)
from backstage_backend_test_utils._user_tokens import TestUserTokens

__all__ = [
    "CONTAINERS",
    "DEFAULT_MOCK_SERVICE_SUBJECT",
    "DEFAULT_MOCK_USER_ENTITY_REF",
    "REQUIRE_SERVICES_ENV",
    "SAMPLE_MIGRATIONS",
    "CapturingLogger",
    "ContainerSpec",
    "FaultMode",
    "InMemoryCache",
    "InMemoryCacheStore",
    "InMemoryDatabaseService",
    "LogEntry",
    "LogLevel",
    "MockAuthService",
    "MockDiscovery",
    "MockHttpAuthService",
    "MockPermissionsService",
    "MockScheduler",
    "ServiceSource",
    "TcpFaultProxy",
    "TestBackend",
    "TestUserTokens",
    "choose_service_source",
    "deep_merge",
    "docker_engine_running",
    "mock_credentials",
    "mock_services",
    "npm_ci",
    "postgres_database_config",
    "require_service_url",
    "service_factories_for_tests",
    "start_test_backend",
    "tcp_fault_proxy",
]
