"""How the writer's failures cross the channel: a database outage, or a commit whose outcome
is unknown, reaches the API as the 503 kind, never as an internal error (no I/O)."""

import psycopg
import pytest
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from psycopg_pool import PoolTimeout

from commands import wire
from commands.wire import OutcomeUnknown, WriterUnavailable


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (WriterUnavailable("the database is unavailable; retry"), WriterUnavailable),
        (OperationalError("Ada's server closed the connection"), WriterUnavailable),
        (InterfaceError("Ada's connection is closed"), WriterUnavailable),
        (psycopg.OperationalError("Ada's server is gone"), WriterUnavailable),
        (psycopg.InterfaceError("Ada's connection is closed"), WriterUnavailable),
        (PoolTimeout("no connection for Ada"), WriterUnavailable),
        (OutcomeUnknown(wire.OUTCOME_UNKNOWN), OutcomeUnknown),
        (PersistenceError("Ada's row is refused"), PersistenceError),
        (RuntimeError("Ada's bug"), wire.CommandFailed),
    ],
)
def test_failures_cross_the_channel_as_their_kind(error, expected) -> None:
    ((seq, copy),) = wire.answers(wire.payload([wire.answer(7, error)]))
    assert seq == 7
    assert isinstance(copy, expected), repr(copy)
    assert "Ada" not in str(copy)
    unknown = isinstance(error, OutcomeUnknown)
    assert isinstance(copy, OutcomeUnknown) == unknown


def test_an_unknown_outcome_tells_to_retry_with_the_same_key() -> None:
    ((_, copy),) = wire.answers(wire.payload([wire.answer(1, OutcomeUnknown("x"))]))
    assert "same Idempotency-Key" in str(copy)
