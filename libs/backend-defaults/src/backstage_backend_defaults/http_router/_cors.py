"""CORS from `backend.cors`, as Backstage reads it; absent means CORS is off."""

from __future__ import annotations

import re

from backstage_backend_plugin_api import RootConfigService
from litestar.config.cors import CORSConfig

__all__ = ["read_cors_config"]

_DEFAULT_METHODS = ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")


def _glob_to_regex(pattern: str) -> str:
    return "".join(".*" if char == "*" else re.escape(char) for char in pattern)


def _string_list(config: RootConfigService, key: str) -> list[str] | None:
    value = config.get_optional(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return config.get_string_array(key)


def read_cors_config(config: RootConfigService) -> CORSConfig | None:
    cors = config.get_optional_config("backend.cors")
    if cors is None:
        return None
    origins = _string_list(config, "backend.cors.origin") or []
    exact = [origin for origin in origins if "*" not in origin]
    globs = [origin for origin in origins if "*" in origin and origin != "*"]
    if "*" in origins:
        exact = ["*"]
    regex = (
        "|".join(f"(?i:{_glob_to_regex(glob)})" for glob in globs)
        if globs and "*" not in exact
        else None
    )
    methods = _string_list(config, "backend.cors.methods") or list(_DEFAULT_METHODS)
    max_age = config.get_optional_number("backend.cors.maxAge")
    return CORSConfig(
        allow_origins=exact,
        allow_origin_regex=regex,
        allow_methods=[method.upper() for method in methods],  # type: ignore[misc]
        allow_headers=_string_list(config, "backend.cors.allowedHeaders") or ["*"],
        expose_headers=_string_list(config, "backend.cors.exposedHeaders") or [],
        allow_credentials=bool(config.get_optional_boolean("backend.cors.credentials")),
        max_age=int(max_age) if max_age is not None else 600,
    )
