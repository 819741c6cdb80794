"""backstage_cli: the `backstage-py` command and the deployment tooling.

It starts deployment units (`units`: which plugins a unit hosts) as the topology
(`topology`: `deploy/topology.yaml`) places them, runs a plugin's migrations by hand, and
renders and checks the deployment files. With `backend.workers` above 1 it supervises a
unit's worker processes (`_supervisor`). It builds on `backstage_backend_defaults`; the
backend itself knows nothing of it.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backstage_cli._cpus import available_cpus, cgroup_cpu_limit
    from backstage_cli._main import main, run_unit
    from backstage_cli._multi import worker_specs
    from backstage_cli._project import (
        config_paths_for_unit,
        find_project_root,
        unit_config_paths,
    )
    from backstage_cli._workers import read_worker_count, worker_roles

__all__ = [
    "available_cpus",
    "cgroup_cpu_limit",
    "config_paths_for_unit",
    "find_project_root",
    "main",
    "read_worker_count",
    "run_unit",
    "unit_config_paths",
    "worker_roles",
    "worker_specs",
]

# Imported on first use: the supervisor of a unit's workers runs from this package and
# must not load the backend the command's modules import.
_HOMES = {
    "available_cpus": "_cpus",
    "cgroup_cpu_limit": "_cpus",
    "config_paths_for_unit": "_project",
    "find_project_root": "_project",
    "main": "_main",
    "read_worker_count": "_workers",
    "run_unit": "_main",
    "unit_config_paths": "_project",
    "worker_roles": "_workers",
    "worker_specs": "_multi",
}

# httpx imports its own command line when it can (`httpx._main`: rich, pygments and click,
# about 60 ms of every start); this program never runs it, and httpx stands a stub in for it
# when it cannot be imported.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'backstage_cli' has no attribute '{name}'")
    return getattr(importlib.import_module(f"backstage_cli.{home}"), name)
