"""CapturingLogger: entries, levels, and children that share the list."""

from __future__ import annotations

import pytest
from backstage_backend_test_utils import LogEntry, mock_services


def test_records_entries_at_or_above_its_level() -> None:
    logger = mock_services.root_logger("info")
    logger.debug("hidden")
    logger.info("shown", {"key": "value"})
    logger.warn("warned")
    logger.error("failed")
    assert logger.entries == [
        LogEntry("info", "shown", {"key": "value"}),
        LogEntry("warn", "warned", {}),
        LogEntry("error", "failed", {}),
    ]
    assert logger.messages("warn") == ["warned"]


def test_children_share_entries_and_add_fields() -> None:
    root = mock_services.root_logger()
    plugin = root.child({"plugin": "catalog"})
    task = plugin.child({"task": "refresh"})
    root.info("root")
    task.debug("from the task", {"count": 3})
    assert root.entries[1] == LogEntry(
        "debug", "from the task", {"plugin": "catalog", "task": "refresh", "count": 3}
    )
    assert plugin.entries is root.entries
    assert [e.message for e in root.matching(plugin="catalog")] == ["from the task"]


def test_an_exception_is_recorded_under_error() -> None:
    logger = mock_services.root_logger()
    error = ValueError("bad")
    logger.error("it failed", error)
    assert logger.entries[0].fields["error"] is error


def test_level_none_records_nothing_and_bad_levels_are_refused() -> None:
    logger = mock_services.root_logger("none")
    logger.error("ignored")
    logger.child({"a": 1}).error("ignored too")
    assert logger.entries == []
    with pytest.raises(ValueError, match="Invalid log level"):
        mock_services.root_logger("loud")  # type: ignore[arg-type]
