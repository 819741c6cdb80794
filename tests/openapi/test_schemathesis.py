"""Schemathesis against a running catalog unit on Postgres with auth on.

A real `backstage-py start --unit catalog` (the production config: Postgres, Redis, a
static external token; the example catalog ingested) serves its document at
`/api/catalog/openapi.json`; Schemathesis reads it there and sends generated requests, valid
and invalid, to every operation with the token. No answer may be a 5xx, and every answer
must match what the document says of it (status codes it lists, bodies of its schemas).
The run is bounded: `MAX_EXAMPLES` cases per operation and phase, a fixed seed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy._units import UnitProcess
from tests.reliability._catalog import Cluster, cluster, example_refs

RUNNER = Path(__file__).parent / "schemathesis"
MAX_EXAMPLES = 40
SEED = 20261206
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"


@pytest.fixture(scope="module")
def catalog_unit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, UnitProcess]]:
    with cluster(tmp_path_factory.mktemp("schemathesis")) as nodes:
        unit = nodes.add_unit(unit="catalog")
        unit.start()
        unit.wait_ready()
        nodes.wait_served(unit, example_refs())
        yield nodes, unit
        # Schemathesis learns uids from responses and deletes those entities (204, as in
        # Backstage: a root Location entity, which no parent emits again, stays deleted and
        # its children become orphans), so which entities remain is not fixed; the catalog
        # must still answer, and stop cleanly
        assert len(nodes.by_refs(unit, example_refs())) == len(example_refs())
        assert unit.stop() == 0, unit.tail()


def test_no_5xx_and_no_answer_breaks_the_document(
    catalog_unit: tuple[Cluster, UnitProcess], tmp_path: Path
) -> None:
    nodes, unit = catalog_unit
    # Schemathesis from its own locked project (see schemathesis/pyproject.toml), in an
    # environment outside the repository
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv (which runs this test suite) is not on PATH"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")}
    result = subprocess.run(
        [
            uv, "run", "--project", str(RUNNER), "--locked", "--quiet",
            "st", "run", f"{unit.url}/api/catalog/openapi.json",
            "--checks", CHECKS,
            "--header", f"Authorization: Bearer {nodes.token}",
            "--max-examples", str(MAX_EXAMPLES),
            "--seed", str(SEED),
            "--phases", "examples,coverage,fuzzing",
            "--workers", "2",
            "--request-timeout", "30",
            "--generation-database", "none",
            "--report", "junit", "--report-dir", str(tmp_path),
            "--no-color",
        ],
        capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-30000:] + "\n" + unit.tail()
