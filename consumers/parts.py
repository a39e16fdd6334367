"""What the automation consumers need of the process that runs them."""

from typing import Protocol

from psycopg_pool import ConnectionPool

from commands.bus import CommandBus
from infra.event_store import EventStore


class WriteSide(Protocol):
    """The database, the event store and the command bus (the composition root's Container)."""

    url: str
    store: EventStore
    pool: ConnectionPool
    bus: CommandBus

    def start(self) -> None: ...

    def close(self) -> None: ...
