"""Helpers for integration tests (real PostgreSQL)."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import UUID, uuid4

from api.bootstrap import Container, bootstrap
from commands.bus import CommandBus
from commands.context import CommandContext, Target
from commands.customers import RegisterCustomer
from infra.settings import Settings


def context(**overrides: object) -> CommandContext:
    """A command context for actor `tester`."""
    values: dict = {
        "actor": "tester",
        "correlation_id": str(uuid4()),
        "received_at": datetime.now(UTC),
    }
    return CommandContext(**(values | overrides))  # type: ignore[arg-type]


def register(bus: CommandBus, **fields: object) -> UUID:
    """Registers a customer and returns its id."""
    customer_id = uuid4()
    command = RegisterCustomer(**({"name": "Ada"} | fields))  # type: ignore[arg-type]
    bus.execute(Target(customer_id, creates=True), command, context())
    return customer_id


@contextmanager
def crm_on(database_url: str) -> Iterator[Container]:
    """A started container on the given database (no .env read), closed afterwards."""
    built = bootstrap(Settings(database_url=database_url, _env_file=None))
    built.start()
    try:
        yield built
    finally:
        built.close()
