from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from backstage_backend_test_utils.slapd import Slapd, run_slapd


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    with run_slapd(tmp_path / "slapd") as server:
        yield server
