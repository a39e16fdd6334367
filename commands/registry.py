"""Which aggregate each command acts on, and its handler.

A handler is `(command, aggregate or None, aggregate id, meta) -> (aggregate, answer)`: it
decides and records events on the aggregate, with no I/O. A handler that also starts other
aggregates (a lead converted into a customer and a deal) returns them third:
`(aggregate, answer, (created, ...))`; all are saved in the command's transaction. A handler
with a keyword parameter `required` is also given the aggregates of `Command.required()` and
those of `Command.consulted()` that exist, by id (a pipeline's stages, a sales team to assign
from); events it records on them are saved with the rest. Modules of handlers register them with `@handles`; `commands.catalog`
imports them all.
"""

import inspect
from collections.abc import Callable
from typing import Any
from uuid import UUID

from commands.base import Command
from domain.aggregate import Aggregate
from domain.values import Meta

Answer = dict[str, Any]
Decision = tuple[Aggregate, Answer] | tuple[Aggregate, Answer, tuple[Aggregate, ...]]
Handler = Callable[[Any, Any, UUID, Meta], Decision]

HANDLERS: dict[type[Command], tuple[type[Aggregate], Handler]] = {}
"""Command type -> (the aggregate type it acts on, its handler)."""
GIVEN_REQUIRED: set[Handler] = set()
"""Handlers that take the required aggregates (a keyword parameter `required`)."""


def handles(
    command_type: type[Command], aggregate_type: type[Aggregate]
) -> Callable[[Handler], Handler]:
    """Registers a handler for a command type."""

    def register(handler: Handler) -> Handler:
        HANDLERS[command_type] = (aggregate_type, handler)
        if "required" in inspect.signature(handler).parameters:
            GIVEN_REQUIRED.add(handler)
        return handler

    return register
