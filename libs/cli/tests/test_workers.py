"""`backend.workers`: its values, the CPUs a process may use under a cgroup limit, and the
roles and environments of a unit's workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from backstage_cli import (
    available_cpus,
    cgroup_cpu_limit,
    read_worker_count,
    worker_roles,
    worker_specs,
)
from backstage_common.config import Config
from backstage_common.errors import InputError

PG: dict[str, Any] = {"database": {"client": "pg"}}


def config(**backend: Any) -> Config:
    return Config.from_data({"backend": {**PG, **backend}})


def four() -> int:
    return 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 4), ("auto", 4), (1, 1), (3, 3), ("2", 2), (16, 16)],
)
def test_worker_count_on_postgres(value: object, expected: int) -> None:
    backend = {} if value is None else {"workers": value}
    assert read_worker_count(config(**backend), cpus=four) == expected


@pytest.mark.parametrize("value", [0, -1, "0", "two", "1.5", 1.5, True, [], {"n": 2}])
def test_worker_count_refuses_anything_else(value: object) -> None:
    with pytest.raises(InputError, match=r"backend\.workers"):
        read_worker_count(config(workers=value), cpus=four)


def test_auto_is_one_worker_on_sqlite_and_more_are_refused() -> None:
    for database in ({}, {"client": "better-sqlite3"}, {"client": "sqlite3"}):
        on_sqlite = Config.from_data({"backend": {"database": database}})
        assert read_worker_count(on_sqlite, cpus=four) == 1
    plugin_on_sqlite = config(
        database={"client": "pg", "plugin": {"search": {"client": "better-sqlite3"}}}
    )
    assert read_worker_count(plugin_on_sqlite, cpus=four) == 1
    with pytest.raises(InputError, match="needs Postgres"):
        read_worker_count(Config.from_data({"backend": {"workers": 2, "database": {}}}), cpus=four)


def cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "200000 100000"}, 2.0),
        ({"cpu.max": "garbage"}, None),
        ({"cpu.cfs_quota_us": "250000\n", "cpu.cfs_period_us": "100000\n"}, 2.5),
        ({"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"}, 0.5),
        ({"cpu.cfs_quota_us": "100000", "cpu.cfs_period_us": "0"}, None),
        ({}, None),
    ],
)
def test_cgroup_cpu_limit(tmp_path: Path, files: dict[str, str], limit: float | None) -> None:
    assert cgroup_cpu_limit(cgroup(tmp_path, files)) == limit


def test_available_cpus_is_the_affinity_capped_by_the_limit_rounded_up(tmp_path: Path) -> None:
    root = cgroup(tmp_path, {"cpu.max": "150000 100000"})
    assert available_cpus(root, affinity=8) == 2
    assert available_cpus(root, affinity=1) == 1
    assert available_cpus(cgroup(tmp_path / "none", {}), affinity=8) == 8
    tiny = cgroup(tmp_path / "tiny", {"cpu.max": "1000 100000"})
    assert available_cpus(tiny, affinity=8) == 1
    # this process, under the machine's own cgroup: at least one
    assert available_cpus() >= 1


def test_roles_of_a_units_workers() -> None:
    assert worker_roles(config(), 2) == ["serve", "serve", "background"]
    assert worker_roles(config(worker={"role": "all"}), 3) == ["serve"] * 3 + ["background"]
    assert worker_roles(config(worker={"role": "serve"}), 2) == ["serve", "serve"]
    assert worker_roles(config(worker={"role": "background"}), 2) == ["background"] * 2
    with pytest.raises(InputError, match=r"backend\.worker\.role"):
        worker_roles(config(worker={"role": "processing"}), 2)


def test_worker_environments() -> None:
    specs = worker_specs(config(metrics={"prometheus": {"enabled": True, "port": 9500}}), 2)
    assert [(spec.index, spec.role) for spec in specs] == [
        (0, "serve"),
        (1, "serve"),
        (2, "background"),
    ]
    for spec in specs:
        assert spec.env["APP_CONFIG_backend_worker_role"] == spec.role
        assert spec.env["APP_CONFIG_backend_logger_meta_worker"] == str(spec.index)
        assert spec.env["APP_CONFIG_backend_metrics_prometheus_port"] == str(9500 + spec.index)
    # one process's 10 connections per pool shared out, at least 2 each
    assert {spec.env["APP_CONFIG_backend_database_pool_max"] for spec in specs} == {"5"}
    assert worker_specs(config(), 8)[0].env["APP_CONFIG_backend_database_pool_max"] == "2"
    sized = worker_specs(config(database={"client": "pg", "pool": {"max": 20}}), 2)
    assert all("APP_CONFIG_backend_database_pool_max" not in spec.env for spec in sized)
    # only the background worker listens elsewhere: on a loopback port of its own
    assert "APP_CONFIG_backend_listen" not in specs[0].env
    assert specs[2].env["APP_CONFIG_backend_listen"].startswith("127.0.0.1:")
    assert specs[2].env["APP_CONFIG_backend_listen_port"] == ""
    # a unit that only processes: every worker shares the unit's port, no metrics set
    processing = worker_specs(config(worker={"role": "background"}), 2)
    assert [spec.role for spec in processing] == ["background", "background"]
    assert all("APP_CONFIG_backend_listen" not in spec.env for spec in processing)
    assert all("APP_CONFIG_backend_metrics_prometheus_port" not in spec.env for spec in processing)
