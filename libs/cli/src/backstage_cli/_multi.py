"""A unit served by several worker processes: the workers' commands and environments."""

from __future__ import annotations

import math
import os
import socket
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from backstage_common.config import Config
from backstage_common.durations import read_optional_duration
from backstage_common.worker_role import WorkerRole

from backstage_cli._supervisor import WorkerSpec
from backstage_cli._supervisor_process import exec_supervisor
from backstage_cli._workers import worker_roles
from backstage_cli.units import Unit

__all__ = ["supervise_unit", "worker_specs"]

_DEFAULT_METRICS_PORT = 9464
_POOL_MAX = 10
"""The default `backend.database.pool.max` of one process (Backstage's knex pool)."""
_POOL_MIN = 2
_STOP_MARGIN = timedelta(seconds=7)
"""Shutdown hooks (5 s) and a margin, past the readiness delay and the drain: within the
10 s the chart and Compose allow past them, so stragglers are killed (and the exit code
says so) before the container runtime kills the supervisor."""


def _loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _metrics_port(config: Config) -> int | None:
    if not config.get_optional_boolean("backend.metrics.prometheus.enabled"):
        return None
    port = config.get_optional_number("backend.metrics.prometheus.port")
    return _DEFAULT_METRICS_PORT if port is None else int(port)


def _pool_max(config: Config, count: int) -> int | None:
    """The default pool size of each of `count` workers: one process's 10 shared out (at
    least 2 each), so that a unit's connections stay about what one process had; None
    when the config sizes the pools itself."""
    for key in ("backend.database.pool.max", "backend.database.knexConfig.pool.max"):
        if config.get_optional(key) is not None:
            return None
    return max(_POOL_MIN, math.ceil(_POOL_MAX / count))


def _spec(
    config: Config, index: int, role: WorkerRole, private_port: bool, pool: int | None
) -> WorkerSpec:
    env = {
        "APP_CONFIG_backend_worker_role": role,
        # every line a worker logs says which worker it is
        "APP_CONFIG_backend_logger_meta_worker": str(index),
    }
    if private_port:
        # The background worker of a unit that serves takes no public traffic: its port
        # is a loopback one of its own, for its health. Empty variables are ignored, so
        # these keep a listen address set in the environment from clashing with it.
        env["APP_CONFIG_backend_listen_host"] = ""
        env["APP_CONFIG_backend_listen_port"] = ""
        env["APP_CONFIG_backend_listen"] = f"127.0.0.1:{_loopback_port()}"
    if pool is not None:
        env["APP_CONFIG_backend_database_pool_max"] = str(pool)
    metrics = _metrics_port(config)
    if metrics:
        env["APP_CONFIG_backend_metrics_prometheus_port"] = str(metrics + index)
    return WorkerSpec(index=index, role=role, env=env)


def worker_specs(config: Config, count: int) -> list[WorkerSpec]:
    """The workers of a unit started with `count` workers (see `worker_roles`): each with
    its role and its index in its log lines; the background worker of a unit that also
    serves on a loopback port of its own; with Prometheus metrics on, worker `i` serving
    them on `backend.metrics.prometheus.port` + `i`; unless the config sizes the database
    pools, each worker's pools hold 10 / `count` connections (at least 2)."""
    roles = worker_roles(config, count)
    serves = "serve" in roles
    pool = _pool_max(config, count)
    return [
        _spec(config, index, role, serves and role == "background", pool)
        for index, role in enumerate(roles)
    ]


def _stop_timeout(config: Config) -> float:
    delay = read_optional_duration(config, "backend.lifecycle.serverShutdownDelay")
    timeout = read_optional_duration(config, "backend.lifecycle.shutdownTimeout")
    total = (delay or timedelta(0)) + (timeout or timedelta(seconds=30)) + _STOP_MARGIN
    return total.total_seconds()


def _log_settings(config: Config, unit: Unit) -> dict[str, Any]:
    """The supervisor's log lines as the root logger would write them: the format and
    level of `backend.logging` (`LOG_LEVEL` first), `backend.logger.meta` on each."""
    fields: dict[str, object] = {"service": "backstage"}
    meta = config.get_optional_config("backend.logger.meta")
    if meta is not None:
        fields.update({key: meta.get(key) for key in meta.keys()})
    fields.update({"unit": unit.name, "worker": "supervisor"})
    form = config.get_optional_string("backend.logging.format")
    level = (
        os.environ.get("LOG_LEVEL")
        or config.get_optional_string("backend.logging.level")
        or config.get_optional_string("backend.logger.level")
        or "info"
    )
    return {
        "fields": fields,
        "json": form == "json" or (form is None and not sys.stdout.isatty()),
        "info": level.lower() in ("debug", "info"),
    }


def supervise_unit(
    unit: Unit,
    paths: Sequence[Path],
    topology: Path | None,
    config: Config,
    count: int,
) -> None:
    """Become the supervisor (see `_supervisor_process`, never returns) of `unit` (its
    config files `paths`, its plugins from `topology`) served by `count` serving workers
    and a background one (see `worker_specs`) until SIGTERM or SIGINT."""
    command = [sys.executable, "-m", "backstage_cli", "start", "--unit", unit.name]
    if topology is not None:
        command += ["--topology", str(topology)]
    for path in paths:
        command += ["--config", str(path)]
    exec_supervisor(
        command,
        worker_specs(config, count),
        stop_timeout=_stop_timeout(config),
        log=_log_settings(config, unit),
    )
