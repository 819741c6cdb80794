"""Structured logs: JSON lines by default, readable text on request, plugin-tagged, levelled."""

from __future__ import annotations

import json

import pytest
from backstage_backend_defaults.logger import create_root_logger
from backstage_common.config import Config
from backstage_common.errors import InputError, NotFoundError


def capture(config: dict[str, object], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    lines: list[bytes] = []
    logger = create_root_logger(Config.from_data(config), write=lines.append, env=env or {})
    return logger, lines


def test_json_lines_carry_plugin_meta_and_errors() -> None:
    logger, lines = capture({"backend": {"logging": {"format": "json"}}})
    plugin_logger = logger.child({"plugin": "catalog"})
    plugin_logger.info("refreshed", {"entities": 3})
    plugin_logger.error("lookup failed", NotFoundError("no such entity"))
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "refreshed"
    assert (first["level"], first["plugin"], first["service"], first["entities"]) == (
        "info",
        "catalog",
        "backstage",
        3,
    )
    assert first["timestamp"].endswith("Z")
    assert second["error"]["name"] == "NotFoundError"
    assert second["error"]["message"] == "no such entity"


def test_text_format_is_readable() -> None:
    logger, lines = capture({"backend": {"logging": {"format": "text"}}})
    logger.child({"plugin": "search"}).warn("index is stale", {"type": "documents"})
    line = lines[0].decode()
    assert " search warn index is stale type=documents" in line


def test_level_from_config_and_log_level_env_wins() -> None:
    logger, lines = capture({"backend": {"logging": {"level": "warn", "format": "json"}}})
    logger.info("hidden")
    logger.warn("shown")
    assert [json.loads(line)["message"] for line in lines] == ["shown"]
    logger, lines = capture(
        {"backend": {"logging": {"level": "warn", "format": "json"}}}, env={"LOG_LEVEL": "debug"}
    )
    logger.debug("now shown")
    assert len(lines) == 1


def test_meta_from_config_is_on_every_line() -> None:
    logger, lines = capture(
        {"backend": {"logging": {"format": "json"}, "logger": {"meta": {"unit": "all"}}}}
    )
    logger.info("hello")
    assert json.loads(lines[0])["unit"] == "all"


def test_bad_level_and_format_are_refused_with_the_key() -> None:
    with pytest.raises(InputError, match=r"Invalid log level 'loud' in 'backend.logging.level'"):
        capture({"backend": {"logging": {"level": "loud"}}})
    with pytest.raises(InputError, match=r"backend.logging.format"):
        capture({"backend": {"logging": {"format": "xml"}}})


async def test_lines_logged_together_are_written_in_one_batch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import os

    from backstage_backend_defaults.logger._sink import BatchingWriter

    path = tmp_path / "log.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    writer = BatchingWriter(fd)
    try:
        writer(b"one\n")
        writer(b"two\n")
        await asyncio.sleep(0)
        assert path.read_bytes() == b""  # held for the lines that follow
        for _ in range(200):
            if path.read_bytes():
                break
            await asyncio.sleep(0.01)
        assert path.read_bytes() == b"one\ntwo\n"
        writer(b"three\n")
        writer.flush()  # what shutdown calls
        assert path.read_bytes() == b"one\ntwo\nthree\n"
        big = b"x" * 70_000 + b"\n"
        writer(b"four\n")
        writer(big)  # past 64 KiB waiting: written at once
        assert path.read_bytes() == b"one\ntwo\nthree\nfour\n" + big
    finally:
        writer.flush()
        os.close(fd)


def test_outside_an_event_loop_each_line_is_written_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from backstage_backend_defaults.logger._sink import BatchingWriter

    path = tmp_path / "log.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        BatchingWriter(fd)(b"now\n")
        assert path.read_bytes() == b"now\n"
    finally:
        os.close(fd)
