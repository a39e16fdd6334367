"""A command waiting for the writer, and how it is answered."""

import math
from concurrent.futures import Future
from dataclasses import dataclass, field

from commands.base import Command
from commands.context import CommandContext, Outcome, Target
from commands.unit_of_work import Key
from infra.metrics import COMMANDS


@dataclass
class Submission:
    """A command waiting for the writer, and where its answer goes."""

    target: Target
    command: Command
    context: CommandContext
    deadline: float = math.inf
    """Until when (time.monotonic) the writer may wait for the database to record it."""
    future: "Future[Outcome]" = field(default_factory=Future)

    @property
    def key(self) -> Key | None:
        key = self.context.idempotency_key
        return (self.context.actor, key) if key else None

    @property
    def answered(self) -> bool:
        return self.future.done()

    def answer(self, answer: Outcome | BaseException) -> None:
        """Gives the command its answer (the first one given: later ones are dropped)."""
        if self.future.done():
            return
        name = type(self.command).__name__
        if isinstance(answer, Outcome):
            COMMANDS.labels(name, "replayed" if answer.replayed else "ok").inc()
            self.future.set_result(answer)
        else:
            COMMANDS.labels(name, getattr(answer, "rule", "error")).inc()
            self.future.set_exception(answer)
