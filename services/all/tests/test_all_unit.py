"""The all-in-one unit, started the way users start it: the `backstage-py` console script."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from backstage_cli.units import load_unit
from backstage_common.config import load_config

REPO_ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_unit_is_installed_with_its_overlay() -> None:
    unit = load_unit("all")
    assert unit.name == "all"
    assert unit.config_overlay is not None
    assert unit.config_overlay.is_file()
    plugins = {feature.plugin_id for feature in unit.features()}
    assert plugins == {"app", "auth", "catalog", "events", "permission", "search"}


def test_root_config_and_overlay_serve_port_7007_on_embedded_defaults() -> None:
    unit = load_unit("all")
    assert unit.config_overlay is not None
    config = load_config([REPO_ROOT / "app-config.yaml", str(unit.config_overlay)], env={})
    assert config.get_number("backend.listen.port") == 7007
    assert config.get_string("backend.baseUrl") == "http://localhost:7007"
    assert config.get_string("backend.database.client") == "better-sqlite3"
    assert config.get_string("backend.cache.store") == "memory"


def test_backstage_py_start_serves_until_sigterm_and_exits_zero(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The root app-config.yaml and the unit overlay, with a local file moving the port, as
    # a developer's app-config.local.yaml would.
    (tmp_path / "app-config.yaml").write_text((REPO_ROOT / "app-config.yaml").read_text())
    (tmp_path / "app-config.local.yaml").write_text(
        f"backend:\n  baseUrl: {base}\n  listen: {{host: 127.0.0.1, port: {port}}}\n"
        "  logging: {format: json}\n"
    )
    script = Path(sys.executable).parent / "backstage-py"
    process = subprocess.Popen(
        [str(script), "start"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"{base}/.backstage/health/v1/readiness")
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.02)
        assert ready is not None
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok"}
        live = httpx.get(f"{base}/.backstage/health/v1/liveness")
        assert live.json() == {"status": "ok"}
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    log = stdout.decode()
    assert '"message":"Backend started"' in log
    assert '"url":"/.backstage/health/v1/readiness"' in log
