"""How many CPUs this process may use: its affinity, capped by its cgroup's CPU limit."""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["CGROUP_ROOT", "available_cpus", "cgroup_cpu_limit"]

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _ratio(quota: str, period: str) -> float | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    # v1 writes -1 and v2 `max` for no limit; a zero period is a broken file, not a limit
    if quota_us <= 0 or period_us <= 0:
        return None
    return quota_us / period_us


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPUs the cgroup mounted at `root` may use (quota / period), or None when it sets
    no limit: cgroup v2's `cpu.max` (`<quota> <period>` or `max <period>`), else v1's
    `cpu.cfs_quota_us` and `cpu.cfs_period_us` (at `root` or under `root/cpu`)."""
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        parts = v2.split()
        if len(parts) != 2 or parts[0] == "max":
            return None
        return _ratio(parts[0], parts[1])
    for folder in (root, root / "cpu", root / "cpu,cpuacct"):
        quota = _read(folder / "cpu.cfs_quota_us")
        period = _read(folder / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            return _ratio(quota, period)
    return None


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS has no affinity
        return os.cpu_count() or 1


def available_cpus(root: Path = CGROUP_ROOT, affinity: int | None = None) -> int:
    """The CPUs this process may use: `affinity` (default: `os.sched_getaffinity(0)`),
    capped by the cgroup limit under `root` rounded up; at least 1."""
    cpus = _affinity() if affinity is None else affinity
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cpus = min(cpus, math.ceil(limit))
    return max(1, cpus)
