"""The deployment shapes the app's browser test runs on, as real processes on loopback ports:
the `all` unit alone, and every unit of the topology behind nginx rendered from it."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from backstage_cli.topology import compose_discovery_config, load_topology, render_nginx

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLE = REPO_ROOT / "packages" / "app" / "dist"
TOPOLOGY = REPO_ROOT / "deploy" / "topology.yaml"
REQUIRE_SERVICES_ENV = "BACKSTAGE_TEST_REQUIRE_SERVICES"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_bundle() -> None:
    """The app's bundle must be built (`backstage-py app build`; CI builds it first)."""
    if not (BUNDLE / "index.html.tmpl").is_file():
        pytest.fail(f"No app bundle in {BUNDLE}: run `backstage-py app build` first")


def require_binary(name: str, *, apt: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found:
        return found
    reason = f"{name} is not installed (apt-get install -y {apt})"
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_SERVICES_ENV}=1 requires it")
    pytest.skip(reason)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} ---\n" + "\n".join(text)


@dataclass
class Deployment:
    """What the browser opens (`url`) and the processes serving it."""

    shape: str
    url: str
    processes: list[Process] = field(default_factory=list)

    def describe(self) -> str:
        return "\n".join(process.tail() for process in self.processes)


def wait_until(
    check: Callable[[], bool], what: str, deployment: Deployment, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for process in deployment.processes:
            if process.popen.poll() is not None:
                raise AssertionError(f"{what}: {process.name} exited\n{deployment.describe()}")
        with contextlib.suppress(httpx.TransportError):
            if check():
                return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} within {timeout:.0f}s\n{deployment.describe()}")
        time.sleep(0.2)


def _ready(url: str) -> bool:
    return httpx.get(f"{url}/.backstage/health/v1/readiness", timeout=5).status_code == 200


def _start(name: str, args: list[str], cwd: Path, log_dir: Path) -> Process:
    log = log_dir / f"{name}.log"
    script = Path(sys.executable).parent / "backstage-py"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [str(script), *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    return Process(name, popen, log)


def _write(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False))
    return path


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def unit_config(*, port: int, base_url: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides of the development config (app-config.yaml) for one unit here."""
    own = {"backend": {"baseUrl": base_url, "listen": {"host": "127.0.0.1", "port": port}}}
    return _merged(own, extra)


@contextlib.contextmanager
def all_unit(
    tmp_path: Path, extra: Mapping[str, Any], *, port: int | None = None
) -> Iterator[Deployment]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    config = _write(tmp_path / "all.yaml", unit_config(port=port, base_url=url, extra=extra))
    deployment = Deployment("all", url)
    try:
        deployment.processes.append(
            _start(
                "all",
                ["start", "--unit", "all", "--config", "app-config.yaml", "--config", str(config)],
                REPO_ROOT,
                tmp_path,
            )
        )
        wait_until(lambda: _ready(url), "the all unit ready", deployment, 240)
        yield deployment
    finally:
        _stop(deployment)


@contextlib.contextmanager
def split_units(
    tmp_path: Path, extra: Mapping[str, Any], *, port: int | None = None
) -> Iterator[Deployment]:
    """Every unit of deploy/topology.yaml in its own process, discovery derived from the
    topology (loopback addresses), nginx in front with the config the topology renders."""
    nginx = require_binary("nginx", apt="nginx-light")
    topology = load_topology(TOPOLOGY)
    ports = {unit: free_port() for unit in topology.units}
    proxy_port = port or free_port()
    url = f"http://127.0.0.1:{proxy_port}"
    discovery = compose_discovery_config(
        topology, unit_url=lambda unit: f"http://127.0.0.1:{ports[unit]}"
    )
    deployment = Deployment("split", url)
    try:
        for unit, unit_port in ports.items():
            data = unit_config(port=unit_port, base_url=url, extra={**extra, **discovery})
            config = _write(tmp_path / f"{unit}.yaml", data)
            args = ["start", "--unit", unit, "--config", "app-config.yaml", "--config", str(config)]
            deployment.processes.append(_start(unit, args, REPO_ROOT, tmp_path))
        for unit, unit_port in ports.items():
            ready = functools.partial(_ready, f"http://127.0.0.1:{unit_port}")
            wait_until(ready, f"unit {unit} ready", deployment, 240)
        runtime = tmp_path / "nginx"
        runtime.mkdir()
        conf = runtime / "nginx.conf"
        conf.write_text(
            render_nginx(
                topology,
                upstream=lambda unit: f"127.0.0.1:{ports[unit]}",
                listen=f"127.0.0.1:{proxy_port}",
                runtime_dir=runtime,
            )
        )
        log = tmp_path / "nginx.log"
        with log.open("wb") as out:
            proxy = subprocess.Popen(
                [nginx, "-p", str(runtime), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
        deployment.processes.append(Process("nginx", proxy, runtime / "error.log"))
        wait_until(
            lambda: httpx.get(f"{url}/", timeout=5).status_code == 200, "nginx", deployment, 30
        )
        yield deployment
    finally:
        _stop(deployment)


def _stop(deployment: Deployment) -> None:
    for process in deployment.processes:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGQUIT if process.name == "nginx" else signal.SIGTERM)
    for process in deployment.processes:
        try:
            process.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
