"""The entity provider of one config block whose full read runs on the block's schedule."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, Protocol, TypeVar

from backstage_backend_plugin_api import (
    LoggerService,
    SchedulerService,
    SchedulerServiceTaskScheduleDefinition,
)

from backstage_plugin_catalog_node._provider_support import schedule_provider_refresh
from backstage_plugin_catalog_node._providers import EntityProviderConnection

__all__ = ["ScheduledEntityProvider", "ScheduledProviderConfig"]


class ScheduledProviderConfig(Protocol):
    """What a scheduled provider needs of its config block."""

    @property
    def id(self) -> str:
        """The block's id, the provider name's suffix."""
        ...

    @property
    def schedule(self) -> SchedulerServiceTaskScheduleDefinition:
        """When the full read runs."""
        ...


ConfigT = TypeVar("ConfigT", bound=ScheduledProviderConfig)


class ScheduledEntityProvider(ABC, Generic[ConfigT]):
    """An entity provider named `<name_prefix>:<config id>` that, once connected, runs its
    full `read` as the task `<name>:refresh` on the config's schedule; a failed read is
    logged and keeps what the catalog has.

    Args:
        config: the provider's config block.
        scheduler: the catalog's scheduler, which runs `<name>:refresh`.
        logger: where failed reads are logged.
        failure: what the log line of a failed read says failed, e.g. `failed to list
            projects`.
    """

    name_prefix: ClassVar[str]
    """What the provider's name starts with, before `:<config id>`."""

    def __init__(
        self,
        config: ConfigT,
        scheduler: SchedulerService,
        logger: LoggerService,
        *,
        failure: str,
    ) -> None:
        self._config = config
        self._scheduler = scheduler
        self._logger = logger
        self._failure = failure
        self._connection: EntityProviderConnection | None = None

    @property
    def name(self) -> str:
        """`<name_prefix>:<config id>`."""
        return f"{self.name_prefix}:{self._config.id}"

    async def connect(self, connection: EntityProviderConnection) -> None:
        """Keep the connection and schedule the reads.

        Args:
            connection: the catalog's connection.
        """
        self._connection = connection
        await schedule_provider_refresh(
            self._scheduler,
            self._logger,
            provider_name=self.name,
            schedule=self._config.schedule,
            read=self.read,
            failure=self._failure,
        )

    def _connected(self) -> EntityProviderConnection:
        """The connection, for a read.

        Raises:
            RuntimeError: `connect` has not been called.
        """
        if self._connection is None:
            raise RuntimeError(f"{self.name} is not connected")
        return self._connection

    @abstractmethod
    async def read(self) -> None:
        """Read the source now and replace what this provider emitted before."""
