"""At start, the root config is checked against the config schemas."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_backend_defaults import ServiceInstantiationError
from backstage_backend_defaults.root_config import (
    config_validation_service_factory,
    config_validation_service_ref,
)
from backstage_backend_plugin_api import core_services, create_service_factory
from backstage_backend_test_utils import CapturingLogger, start_test_backend
from backstage_common.config import ConfigSchema

BASE: dict[str, Any] = {"backend": {"logging": {"level": "warn"}}}


async def _start(data: dict[str, Any], logger: CapturingLogger) -> None:
    root_logger = create_service_factory(service=core_services.root_logger, factory=lambda: logger)
    validation = config_validation_service_factory(ConfigSchema.from_entry_points())
    async with start_test_backend(features=[root_logger, validation], config=data) as backend:
        result = await backend.get_service(config_validation_service_ref)
        assert result.errors == ()


async def test_an_unknown_key_is_logged_with_the_closest_known_key() -> None:
    logger = CapturingLogger("warn")
    data = {"backend": {**BASE["backend"], "lisen": 7008}, "catalog": {"readOnly": True}}
    await _start(data, logger)
    warnings = [entry for entry in logger.entries if entry.fields.get("type") == "configSchema"]
    assert [entry.message for entry in warnings] == [
        "Unknown config key 'backend.lisen' in 'mock-config', did you mean 'backend.listen'?",
        "Unknown config key 'catalog.readOnly' in 'mock-config', did you mean 'catalog.readonly'?",
    ]


async def test_a_wrong_type_stops_the_start_naming_the_key() -> None:
    logger = CapturingLogger("warn")
    data = {"backend": {**BASE["backend"], "cache": {"store": "memory", "timeout": []}}}
    with pytest.raises(
        ServiceInstantiationError, match=r"'backend\.cache\.timeout' in 'mock-config'"
    ):
        await _start(data, logger)


async def test_a_valid_config_starts_without_a_warning() -> None:
    logger = CapturingLogger("warn")
    await _start({**BASE, "catalog": {"readonly": True}, "organization": {"name": "x"}}, logger)
    assert [entry for entry in logger.entries if entry.fields.get("type") == "configSchema"] == []
