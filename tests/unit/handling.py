"""Running a command's handler in a unit test, as the writer runs it."""

from uuid import UUID, uuid4

from commands.base import Command
from commands.handling import Decide, Decision, Lookups, NoLookups
from commands.registry import COMMAND_HANDLERS
from domain.aggregate import Aggregate
from domain.values import Meta
from tests.unit.builders import META


def handle(
    command: Command,
    current: Aggregate | None = None,
    *stored: Aggregate,
    target_id: UUID | None = None,
    meta: Meta = META,
    lookups: Lookups | None = None,
) -> Decision:
    """Decides `command` on `current` (None: a new aggregate, under `target_id` or a fresh
    id), given those of the `stored` aggregates that the command requires or consults."""
    wanted = {*command.required(), *command.consulted()}
    given = {a.id: a for a in stored if a.id in wanted}
    aggregate_id = target_id or (current.id if current else uuid4())
    ctx = Decide(current, aggregate_id, meta, given, lookups or NoLookups())
    return COMMAND_HANDLERS[type(command)].handler(command, ctx)
