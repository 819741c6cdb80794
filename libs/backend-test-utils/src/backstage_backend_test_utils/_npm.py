"""Installing a test's npm packages from its committed lock file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from backstage_backend_test_utils._services import REQUIRE_SERVICES_ENV

__all__ = ["npm_ci"]


def npm_ci(folder: Path, needed_for: str) -> str:
    """`npm ci` in `folder` from its committed `package-lock.json`; the `node` binary.

    Args:
        folder: the folder holding `package.json` and `package-lock.json`.
        needed_for: what node runs there, for the message when node or npm is missing
            (e.g. "run Backstage's catalog client").

    Without node or npm the test is skipped with that reason, or fails under
    `BACKSTAGE_TEST_REQUIRE_SERVICES=1` (as in CI), so a missing tool never passes silently.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = f"node and npm are needed to {needed_for}"
        if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True
    )
    return node
