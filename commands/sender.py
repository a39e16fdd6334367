"""What the API needs of a command bus, in this process or in a writer process."""

from concurrent.futures import Future
from typing import Protocol

from commands.base import Command
from commands.context import CommandContext, Outcome, Target


class CommandSender(Protocol):
    """Accepts commands and answers each through a Future."""

    @property
    def alive(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def submit(
        self, target: Target, command: Command, context: CommandContext
    ) -> Future[Outcome]: ...
