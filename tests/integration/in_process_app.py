"""The HTTP app in this process, over a container's command bus, for integration tests that
need the routes and real PostgreSQL but not a `crm serve` process."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Container
from commands.base import Command
from commands.context import CommandContext, Outcome, Target
from infra.postgres import open_pool
from infra.settings import Settings


class InProcessCommands:
    """The writer process's interface, served by the container's bus in this process."""

    def __init__(self, container: Container) -> None:
        self._bus = container.bus

    async def start(self) -> None:
        """The bus is the container's, already started."""

    def stop(self) -> None:
        """The container stops its bus."""

    async def execute(self, target: Target, command: Command, context: CommandContext) -> Outcome:
        return await asyncio.wrap_future(self._bus.submit(target, command, context))

    async def ping(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(asyncio.wrap_future(self._bus.ping()), timeout)


@contextmanager
def serving(container: Container, settings: Settings) -> Iterator[TestClient]:
    """A client of the app over `container` (a pool of its own, which the app closes), its
    lifespan running: the access log's writer too."""
    pool = open_pool(container.url, 4, "test-api")
    app = create_app(pool, InProcessCommands(container), settings)  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield client
