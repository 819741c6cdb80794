"""Units started as the image starts them (`backstage-py start --unit <name>`), and the
example catalog they ingest: shared by the deployment and the reliability tests."""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from ._processes import stop, wait_until
from ._support import REPO_ROOT

__all__ = [
    "EXAMPLES",
    "EXAMPLE_KINDS",
    "START_TIMEOUT",
    "WORK_TIMEOUT",
    "UnitProcess",
    "entity_ref",
    "example_entities",
]

EXAMPLES = REPO_ROOT / "examples/catalog"
# What the example catalog holds (as in the root app-config.yaml).
EXAMPLE_KINDS = ["Location", "Group", "User", "Domain", "System", "Component", "API", "Resource"]
# Generous: the machine running the tests may be busy with other work.
START_TIMEOUT = 180.0
WORK_TIMEOUT = 180.0


def example_entities() -> list[dict[str, Any]]:
    """The entities the example catalog's Location (all.yaml) points at."""
    root = yaml.safe_load((EXAMPLES / "all.yaml").read_text())
    return [
        doc
        for target in root["spec"]["targets"]
        for doc in yaml.safe_load_all((EXAMPLES / target).read_text())
        if doc
    ]


def entity_ref(entity: dict[str, Any]) -> str:
    namespace = entity["metadata"].get("namespace", "default")
    return f"{entity['kind']}:{namespace}/{entity['metadata']['name']}".lower()


@dataclass
class UnitProcess:
    """One unit started by the real CLI, its output appended to `log` across restarts."""

    name: str
    port: int
    command: list[str]
    cwd: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def running(self) -> subprocess.Popen[bytes]:
        process = self.process
        assert process is not None, f"{self.name} was not started"
        assert process.poll() is None, f"{self.name} exited with {process.returncode}"
        return process

    def stop(self, signum: int = signal.SIGTERM) -> int | None:
        """Signal the process (if it runs), wait for it (killed after `STOP_WAIT_SECONDS`); its
        exit code."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        stop(process, signum)
        return process.returncode

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def records(self, since: int = 0) -> list[dict[str, Any]]:
        """The JSON log records written after byte `since` (other lines are skipped)."""
        with self.log.open("rb") as file:
            file.seek(since)
            lines = file.read().decode(errors="replace").splitlines()
        found = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                found.append(record)
        return found

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return f"({self.name}: no output)"
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- last lines of {self.name}'s output ---\n" + "\n".join(text)

    def ready(self) -> bool:
        response = httpx.get(f"{self.url}/.backstage/health/v1/readiness", timeout=10)
        return response.status_code == 200

    def wait_ready(self) -> None:
        wait_until(
            self.ready,
            f"readiness of the {self.name} unit",
            alive=[self.running()],
            timeout=START_TIMEOUT,
            describe=self.tail,
        )

    def wait_for_record(self, message: str, *, since: int, what: str) -> dict[str, Any]:
        """The first record after byte `since` whose message contains `message`."""

        def found() -> dict[str, Any] | None:
            for record in self.records(since):
                if message in str(record.get("message", "")):
                    return record
            return None

        return wait_until(
            found, what, alive=[self.running()], timeout=WORK_TIMEOUT, describe=self.tail
        )
