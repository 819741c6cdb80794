"""The layering of `[tool.importlinter]` (pyproject.toml), applied to the test folders.

Tests are not importable packages, so import-linter cannot see them; this reads every test
file's imports (those inside functions too) and fails when a folder's tests import a
project package its rule does not allow. Third-party imports are not checked.

Tests may import what the code they test may import, plus the test utilities. A plugin's
tests may also import `backstage_backend_defaults`: they run the plugin on the real default
services (scheduler, logger, telemetry) rather than on fakes. Tests that need another
plugin's backend, the command or a deployment unit are cross-unit tests and live in `tests/`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PREFIX = "backstage_"

COMMON = {"backstage_common"}
# the core speaks the isomorphic permission types, as Backstage's backend-plugin-api does
PLUGIN_API = COMMON | {"backstage_backend_plugin_api", "backstage_plugin_permission_common"}
CORE = PLUGIN_API | {
    "backstage_backend_defaults",
    "backstage_backend_test_utils",
    "backstage_integration",
}
PLUGIN_SHARED = {
    "backstage_plugin_auth_node",
    "backstage_plugin_catalog_common",
    "backstage_plugin_catalog_node",
    "backstage_plugin_permission_common",
    "backstage_plugin_permission_node",
    "backstage_plugin_search_node",
}
PLUGIN_TESTS = CORE | PLUGIN_SHARED

ALLOWED: dict[str, set[str] | None] = {
    "libs/common/tests": COMMON,
    "libs/backend-plugin-api/tests": PLUGIN_API,
    "libs/backend-defaults/tests": CORE,
    "libs/backend-test-utils/tests": CORE,
    # the integrations library, tested against the loopback SCM servers of the test utilities
    "libs/integration/tests": CORE,
    "libs/cli/tests": CORE | {"backstage_cli"},
    "plugins/app-backend/tests": PLUGIN_TESTS | {"backstage_plugin_app_backend"},
    "plugins/auth-node/tests": PLUGIN_TESTS,
    "plugins/auth-backend/tests": PLUGIN_TESTS
    | {"backstage_plugin_auth_backend", "backstage_plugin_auth_backend_module_guest_provider"},
    "plugins/auth-backend-module-guest-provider/tests": PLUGIN_TESTS
    | {"backstage_plugin_auth_backend_module_guest_provider"},
    "plugins/auth-backend-module-oidc-provider/tests": PLUGIN_TESTS
    | {"backstage_plugin_auth_backend_module_oidc_provider"},
    "plugins/auth-backend-module-github-provider/tests": PLUGIN_TESTS
    | {"backstage_plugin_auth_backend_module_github_provider"},
    # the catalog's permissions are permission-common's (isomorphic, as catalog-common is)
    "plugins/catalog-common/tests": COMMON
    | {"backstage_plugin_catalog_common", "backstage_plugin_permission_common"},
    "plugins/catalog-node/tests": PLUGIN_TESTS,
    "plugins/catalog-backend/tests": PLUGIN_TESTS | {"backstage_plugin_catalog_backend"},
    "plugins/permission-common/tests": COMMON | {"backstage_plugin_permission_common"},
    "plugins/permission-node/tests": PLUGIN_TESTS,
    "plugins/permission-backend/tests": PLUGIN_TESTS | {"backstage_plugin_permission_backend"},
    "plugins/search-node/tests": PLUGIN_TESTS,
    "plugins/search-backend/tests": PLUGIN_TESTS | {"backstage_plugin_search_backend"},
    "plugins/catalog-backend-module-github/tests": PLUGIN_TESTS
    | {
        "backstage_plugin_catalog_backend_module_github",
        "backstage_plugin_events_node",
        "backstage_integration",
    },
    "plugins/catalog-backend-module-gitlab/tests": PLUGIN_TESTS
    | {
        "backstage_plugin_catalog_backend_module_gitlab",
        "backstage_plugin_events_node",
        "backstage_integration",
    },
    "plugins/catalog-backend-module-ldap/tests": PLUGIN_TESTS
    | {"backstage_plugin_catalog_backend_module_ldap", "backstage_plugin_events_node"},
    "plugins/events-node/tests": PLUGIN_TESTS | {"backstage_plugin_events_node"},
    "plugins/events-backend/tests": PLUGIN_TESTS
    | {"backstage_plugin_events_backend", "backstage_plugin_events_node"},
    "plugins/catalog-backend-module-events/tests": PLUGIN_TESTS
    | {"backstage_plugin_catalog_backend_module_events", "backstage_plugin_events_node"},
    # deployment units and cross-unit tests put the pieces together: anything goes
    "services/all/tests": None,
    "services/catalog/tests": None,
    "services/search/tests": None,
    "tests": None,
}
"""Each test folder and the project packages its tests may import (None: any)."""

TEST_FOLDER_PATTERNS = ("libs/*/tests", "plugins/*/tests", "services/*/tests", "tests")


def imported_packages(source: str, filename: str) -> list[tuple[int, str]]:
    """The top-level package of every absolute import in `source`, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def problems(root: Path) -> list[str]:
    lines: list[str] = []
    folders = sorted({path for pattern in TEST_FOLDER_PATTERNS for path in root.glob(pattern)})
    for folder in folders:
        key = folder.relative_to(root).as_posix()
        if key not in ALLOWED:
            lines.append(f"{key}: a test folder with no rule in {Path(__file__).name}")
            continue
        allowed = ALLOWED[key]
        if allowed is None:
            continue
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            for line, package in imported_packages(path.read_text(), relative):
                if package.startswith(PROJECT_PREFIX) and package not in allowed:
                    lines.append(f"{relative}:{line}: {key} may not import {package}")
    return lines


def main() -> int:
    found = problems(ROOT)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} forbidden import(s) in tests")
        return 1
    print("Test imports follow the layering")
    return 0


if __name__ == "__main__":
    sys.exit(main())
