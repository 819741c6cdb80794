"""The request log's fast JSON line says exactly what the logger's general path says."""

from __future__ import annotations

import json

from backstage_backend_defaults.http_router._request_log import RequestLog
from backstage_backend_defaults.logger import create_root_logger
from backstage_common.config import Config
from hypothesis import given
from hypothesis import strategies as st


def _lines(fmt: str, level: str = "info") -> tuple[RequestLog, list[bytes]]:
    lines: list[bytes] = []
    config = Config.from_data(
        {
            "backend": {
                "logging": {"format": fmt, "level": level},
                "logger": {"meta": {"unit": "all"}},
            }
        }
    )
    root = create_root_logger(config, write=lines.append, env={})
    return RequestLog(root.child({"type": "incomingRequest"})), lines


@given(
    path=st.text(min_size=1, max_size=60).map(lambda text: "/" + text),
    status=st.integers(min_value=100, max_value=599),
    duration_us=st.integers(min_value=0, max_value=10**11),
    plugin=st.one_of(st.none(), st.sampled_from(["catalog", "search-backend"])),
)
def test_fast_line_equals_the_general_logger_entry(
    path: str, status: int, duration_us: int, plugin: str | None
) -> None:
    fast, fast_lines = _lines("json")
    # the second line reuses what the first one built
    fast.write("GET", path, status, 1, "1.1", plugin)
    fast.write("GET", path, status, duration_us, "1.1", plugin)
    assert json.loads(fast_lines[0])["durationMs"] == 0.001
    entry = json.loads(fast_lines[1])
    duration = duration_us / 1000

    general_lines: list[bytes] = []
    config = Config.from_data(
        {"backend": {"logging": {"format": "json"}, "logger": {"meta": {"unit": "all"}}}}
    )
    logger = create_root_logger(config, write=general_lines.append, env={}).child(
        {"type": "incomingRequest"}
    )
    meta: dict[str, object] = {
        "type": "incomingRequest",
        "method": "GET",
        "url": path,
        "status": status,
        "durationMs": duration,
        "httpVersion": "1.1",
    }
    if plugin is not None:
        meta["plugin"] = plugin
    logger.info(f'"GET {path}" {status} {duration}ms', meta)
    expected = json.loads(general_lines[0])
    del entry["timestamp"], expected["timestamp"]
    assert entry == expected


def test_text_format_and_levels_use_the_logger() -> None:
    text, lines = _lines("text")
    text.write("POST", "/api/catalog/locations", 201, 3500, "1.1", "catalog")
    assert b'catalog info "POST /api/catalog/locations" 201 3.5ms' in lines[0]
    quiet, quiet_lines = _lines("json", level="warn")
    assert quiet.enabled is False
    assert quiet_lines == []
