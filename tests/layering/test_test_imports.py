"""The layering check over the test folders (`.ci/check_test_imports.py`) catches what it is
there to catch: a forbidden import at module level or inside a function, and a test folder
that no rule covers; allowed imports pass."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_check() -> ModuleType:
    path = REPO_ROOT / ".ci" / "check_test_imports.py"
    spec = importlib.util.spec_from_file_location("check_test_imports", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_repository_follows_the_layering() -> None:
    assert load_check().problems(REPO_ROOT) == []


def test_allowed_imports_pass(tmp_path: Path) -> None:
    write(
        tmp_path,
        "plugins/catalog-backend/tests/test_ok.py",
        "import pytest\n"
        "from backstage_backend_defaults.scheduler import scheduler_service_factory\n"
        "from backstage_backend_test_utils import start_test_backend\n"
        "from backstage_plugin_catalog_backend import catalog_plugin\n"
        "from backstage_plugin_catalog_common import parse_filter\n"
        "from .helpers import thing\n",
    )
    write(tmp_path, "tests/test_anything.py", "import backstage_service_all\n")
    assert load_check().problems(tmp_path) == []


def test_a_plugin_test_importing_another_plugins_backend_fails(tmp_path: Path) -> None:
    write(
        tmp_path,
        "plugins/search-backend/tests/test_bad.py",
        "import json\n\n\ndef test_x() -> None:\n"
        "    from backstage_plugin_catalog_backend.stitching import stitch_entities\n",
    )
    assert load_check().problems(tmp_path) == [
        "plugins/search-backend/tests/test_bad.py:5: plugins/search-backend/tests may not "
        "import backstage_plugin_catalog_backend"
    ]


def test_the_plugin_api_tests_may_not_import_an_implementation(tmp_path: Path) -> None:
    write(
        tmp_path,
        "libs/backend-plugin-api/tests/test_bad.py",
        "import backstage_backend_defaults.database\nimport backstage_common\n",
    )
    assert load_check().problems(tmp_path) == [
        "libs/backend-plugin-api/tests/test_bad.py:1: libs/backend-plugin-api/tests may not "
        "import backstage_backend_defaults"
    ]


def test_a_test_folder_without_a_rule_fails(tmp_path: Path) -> None:
    write(tmp_path, "plugins/todo-backend/tests/test_todo.py", "import backstage_common\n")
    problems = load_check().problems(tmp_path)
    assert problems == [
        "plugins/todo-backend/tests: a test folder with no rule in check_test_imports.py"
    ]
