"""What travels between the API process and its command writer, as JSON (never pickle).

A request payload is a JSON array of messages: a command (its model's name and its data,
validated again by the writer as the API validated it), a ping, or a stop. An answer payload
is a JSON array of answers: an outcome, a refusal (a `CrmError` subclass, found by name among
the classes this program defines, and its arguments), or a failure kind. Nothing a client
sends can name a class outside those, or reach anything but pydantic's validation.
"""

from functools import cache
from typing import Annotated, Any, Literal

import orjson
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from psycopg import InterfaceError as PsycopgInterfaceError
from psycopg import OperationalError as PsycopgOperationalError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from commands.base import Command
from commands.context import CommandContext, Outcome, Target
from commands.registry import COMMAND_HANDLERS
from domain.errors import CrmError


class WriterUnavailable(RuntimeError):
    """The command writer, or the database behind it, could not answer; retry."""


class OutcomeUnknown(WriterUnavailable):
    """The connection failed while a command's transaction was committing, and the writer
    could not learn in time whether it was recorded; retry with the same Idempotency-Key."""


class CommandFailed(RuntimeError):
    """The command writer failed on a command for a reason of its own (answered 500)."""


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CommandMessage(_Message):
    """A command to decide and save; `seq` names its answer."""

    kind: Literal["command"] = "command"
    seq: int
    name: str
    target: Target
    context: CommandContext
    data: dict[str, Any]


class Ping(_Message):
    """Asks the writer to answer that it is running, through its command bus."""

    kind: Literal["ping"] = "ping"
    seq: int


class Stop(_Message):
    """Asks the writer to answer what it has and stop."""

    kind: Literal["stop"] = "stop"


Request = Annotated[CommandMessage | Ping | Stop, Field(discriminator="kind")]
_REQUESTS = TypeAdapter(list[Request])


class OutcomeAnswer(_Message):
    kind: Literal["outcome"] = "outcome"
    seq: int
    outcome: Outcome


class Refusal(_Message):
    kind: Literal["refusal"] = "refusal"
    seq: int
    refusal: str
    args: list[Any]


FailureKind = Literal["unavailable", "unknown", "storage", "internal"]


class Failure(_Message):
    kind: Literal["failure"] = "failure"
    seq: int
    failure: FailureKind


Answer = Annotated[OutcomeAnswer | Refusal | Failure, Field(discriminator="kind")]
_ANSWERS = TypeAdapter(list[Answer])


def command_message(seq: int, target: Target, command: Command, context: CommandContext) -> bytes:
    """A command as one message of a request payload (a `CommandMessage`, written directly:
    the API's hot path)."""
    data = orjson.Fragment(command.model_dump_json(exclude_unset=True))
    return orjson.dumps(
        {
            "kind": "command",
            "seq": seq,
            "name": type(command).__name__,
            "target": target,
            "context": context,
            "data": data,
        }
    )


def payload(messages: list[bytes]) -> bytes:
    """Messages (or answers) encoded one by one, as one payload."""
    return b"[" + b",".join(messages) + b"]"


def requests(data: bytes) -> list[CommandMessage | Ping | Stop]:
    """The messages of a request payload (pydantic's ValidationError if it is not one)."""
    return _REQUESTS.validate_json(data)


def command_of(message: CommandMessage) -> Command:
    """The command a message carries, validated as at the edge (ValidationError, KeyError)."""
    return _commands()[message.name].model_validate(message.data)


def answer(seq: int, result: Outcome | BaseException) -> bytes:
    """One answer, as the writer sends it."""
    if isinstance(result, Outcome):
        return orjson.dumps({"kind": "outcome", "seq": seq, "outcome": result})
    if isinstance(result, CrmError):
        args = [
            a if isinstance(a, str | int | float | bool | None) else str(a) for a in result.args
        ]
        return orjson.dumps(
            {"kind": "refusal", "seq": seq, "refusal": _name(type(result)), "args": args}
        )
    return orjson.dumps({"kind": "failure", "seq": seq, "failure": failure_kind(result)})


def answers(data: bytes) -> list[tuple[int, Outcome | Exception]]:
    """The answers of an answer payload, each a result or the error to raise to its caller
    (pydantic's ValidationError if the payload is not one)."""
    return [(each.seq, _result(each)) for each in _ANSWERS.validate_json(data)]


def failure_kind(error: BaseException) -> FailureKind:
    """How an error other than a refusal is told to the API."""
    if isinstance(error, OutcomeUnknown):
        return "unknown"
    if isinstance(error, (*_UNREACHABLE, WriterUnavailable)):
        return "unavailable"
    if isinstance(error, PersistenceError):
        return "storage"
    return "internal"


def _result(each: Answer) -> Outcome | Exception:
    if isinstance(each, OutcomeAnswer):
        return each.outcome
    if isinstance(each, Refusal):
        return _refusal(each.refusal, each.args)
    if each.failure == "unavailable":
        return WriterUnavailable("the database is unavailable; retry")
    if each.failure == "unknown":
        return OutcomeUnknown(OUTCOME_UNKNOWN)
    if each.failure == "storage":
        return PersistenceError("the event store refused the write")
    return CommandFailed("the command writer failed on this command")


OUTCOME_UNKNOWN = (
    "the database was cut off while recording this; whether it was recorded is unknown:"
    " retry with the same Idempotency-Key"
)
_UNREACHABLE = (
    OperationalError,
    InterfaceError,
    PsycopgOperationalError,
    PsycopgInterfaceError,
    PoolTimeout,
)


def _refusal(name: str, args: list[Any]) -> Exception:
    kind = _refusals().get(name)
    if kind is None:
        return CommandFailed(f"unknown refusal {name!r} from the command writer")
    try:
        return kind(*args)
    except TypeError:
        return CommandFailed(f"refusal {name!r} with arguments it does not take")


@cache
def _commands() -> dict[str, type[Command]]:
    names = {model.__name__: model for model in COMMAND_HANDLERS}
    if len(names) != len(COMMAND_HANDLERS):
        raise RuntimeError("two command models share a name")
    return names


def _refusals() -> dict[str, type[CrmError]]:
    found: dict[str, type[CrmError]] = {}
    pending: list[type[CrmError]] = [CrmError]
    while pending:
        kind = pending.pop()
        found[_name(kind)] = kind
        pending += kind.__subclasses__()
    return found


def _name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"
