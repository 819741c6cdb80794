"""npm_ci: installs from the committed lock file; without node or npm, a skip with the reason,
or a failure under BACKSTAGE_TEST_REQUIRE_SERVICES=1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from backstage_backend_test_utils import REQUIRE_SERVICES_ENV, npm_ci


def test_installs_from_the_lock_file_and_returns_node(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail("node and npm run in CI and on every engineer's machine")
    # a local package, so the install needs no registry
    (tmp_path / "dep").mkdir()
    (tmp_path / "dep" / "package.json").write_text(json.dumps({"name": "dep", "version": "1.0.0"}))
    package = {"name": "t", "version": "1.0.0", "dependencies": {"dep": "file:dep"}}
    lock = {
        "name": "t",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": package,
            "dep": {"version": "1.0.0"},
            "node_modules/dep": {"resolved": "dep", "link": True},
        },
    }
    (tmp_path / "package.json").write_text(json.dumps(package))
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "stale").touch()

    assert npm_ci(tmp_path, "run a check") == node
    assert (tmp_path / "node_modules" / "dep" / "package.json").exists()
    assert not (tmp_path / "node_modules" / "stale").exists()


def test_a_folder_without_a_lock_file_fails(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"name": "no-lock", "version": "1.0.0"}))
    with pytest.raises(Exception, match="returned non-zero exit status"):
        npm_ci(tmp_path, "run a check")


@pytest.mark.parametrize(("required", "outcome"), [("0", "skip"), ("1", "fail")])
def test_missing_node_skips_or_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, required: str, outcome: str
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, required)
    expected = pytest.skip.Exception if outcome == "skip" else pytest.fail.Exception
    with pytest.raises(expected, match="node and npm are needed to run a check"):
        npm_ci(tmp_path, "run a check")
