"""backstage_cli: the `backstage-py` command and the deployment tooling.

It starts deployment units (`units`: which plugins a unit hosts) as the topology
(`topology`: `deploy/topology.yaml`) places them, runs a plugin's migrations by hand, and
renders and checks the deployment files. With `backend.workers` above 1 it supervises a
unit's worker processes (`_supervisor`). It builds on `backstage_backend_defaults`; the
backend itself knows nothing of it.
"""

from backstage_cli._cpus import available_cpus, cgroup_cpu_limit
from backstage_cli._main import main, run_unit
from backstage_cli._multi import worker_specs
from backstage_cli._project import config_paths_for_unit, find_project_root, unit_config_paths
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
