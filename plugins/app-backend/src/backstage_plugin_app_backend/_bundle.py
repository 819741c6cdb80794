"""The built frontend bundle: which files may be served, their headers and variants.

The bundle's files are listed once at start, and only listed files are ever served: a
request path is a key in that listing, never joined onto a directory, so no path (`..`,
encoded or not, a symlink out of the bundle, a dotfile) can reach a file outside it.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Bundle", "BundleFile", "scan_bundle"]

IMMUTABLE = "public, max-age=31536000, immutable"
"""Assets whose name holds their content hash never change under that name."""
STATIC = "public, max-age=1209600"
"""Other `static/` files: Backstage's 14 days."""
ROOT = "public, max-age=0"
NO_STORE = "no-store, max-age=0"

# The build names assets `<name>.<12 hex digits>.<ext>` (also `.chunk.js`).
_HASHED = re.compile(r"\.[0-9a-f]{8,}\.(?:chunk\.)?[a-z0-9]+(?:\.map)?$")
_VARIANTS = (("br", ".br"), ("gzip", ".gz"))
_EXTRA_TYPES = {
    # Litestar adds `; charset=utf-8` to text/* types itself.
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".html": "text/html",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
}


@dataclass(frozen=True)
class BundleFile:
    """One servable file and its precompressed variants (by content coding)."""

    path: Path
    content_type: str
    cache_control: str
    etag: str
    size: int
    variants: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Bundle:
    """The bundle's servable files by URL path (`/static/main.1a2b3c4d5e6f.js`, `/favicon.ico`)."""

    root: Path
    files: dict[str, BundleFile]
    template: str | None
    build_configs: list[dict[str, Any]] = field(default_factory=list)
    """The config the build placed in its own `index.html` (the app package's
    app-config.yaml, filtered to the frontend's part by the build)."""


def _content_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _cache_control(url_path: str, content_type: str) -> str:
    if url_path.startswith("/static/"):
        return IMMUTABLE if _HASHED.search(url_path) else STATIC
    return NO_STORE if content_type.startswith("text/html") else ROOT


def _etag(path: Path, size: int) -> str:
    stat = path.stat()
    digest = hashlib.blake2b(f"{stat.st_mtime_ns}:{size}".encode(), digest_size=8).hexdigest()
    return f'W/"{size:x}-{digest}"'


_CONFIG_SCRIPT = re.compile(r'<script type="backstage\.io/config">(.*?)</script>', re.S)


def _build_configs(index: Path) -> list[dict[str, Any]]:
    if not index.is_file():
        return []
    configs: list[dict[str, Any]] = []
    for match in _CONFIG_SCRIPT.finditer(index.read_text("utf-8")):
        try:
            parsed = json.loads(match.group(1))
        except ValueError:
            continue
        configs += [c for c in parsed if isinstance(c, dict) and isinstance(c.get("data"), dict)]
    return configs


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(root)
    except (OSError, ValueError):
        return False
    return True


def scan_bundle(root: Path) -> Bundle:
    """Lists the servable files of the bundle in `root` (the build's `dist`).

    Dotfiles and dot-directories (`.config-schema.json`), the template, the build's own
    `index.html` (the page is always rendered from the template) and the precompressed
    variants themselves are not servable; anything that resolves outside `root` is skipped.

    Args:
        root: the bundle directory.
    """
    root = root.resolve(strict=True)
    files: dict[str, BundleFile] = {}
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        for name in names:
            if name.startswith(".") or name.endswith((".br", ".gz")):
                continue
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            if relative in ("index.html", "index.html.tmpl") or not _is_within(path, root):
                continue
            if not path.is_file():
                continue
            url_path = "/" + relative
            content_type = _content_type(name)
            size = path.stat().st_size
            variants = {
                coding: Path(f"{path}{suffix}")
                for coding, suffix in _VARIANTS
                if Path(f"{path}{suffix}").is_file() and _is_within(Path(f"{path}{suffix}"), root)
            }
            files[url_path] = BundleFile(
                path=path,
                content_type=content_type,
                cache_control=_cache_control(url_path, content_type),
                etag=_etag(path, size),
                size=size,
                variants=variants,
            )
    template_path = root / "index.html.tmpl"
    template = template_path.read_text("utf-8") if template_path.is_file() else None
    if template is None and (root / "index.html").is_file():
        template = (root / "index.html").read_text("utf-8")
    return Bundle(
        root=root,
        files=files,
        template=template,
        build_configs=_build_configs(root / "index.html"),
    )
