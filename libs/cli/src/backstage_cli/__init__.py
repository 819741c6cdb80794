"""backstage_cli: the `backstage-py` command and the deployment tooling.

It starts deployment units (`units`: which plugins a unit hosts) as the topology
(`topology`: `deploy/topology.yaml`) places them, runs a plugin's migrations by hand, and
renders and checks the deployment files. It builds on `backstage_backend_defaults`; the
backend itself knows nothing of it.
"""

from backstage_cli._main import main, run_unit
from backstage_cli._project import config_paths_for_unit, find_project_root, unit_config_paths

__all__ = [
    "config_paths_for_unit",
    "find_project_root",
    "main",
    "run_unit",
    "unit_config_paths",
]
