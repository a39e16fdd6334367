"""What aggregates recorded, as stored and as read models fold it: tests check what is shown
there, since aggregates keep only the state their decisions need."""

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import reduce
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import project_aggregate

from domain.events.envelope import Envelope, from_stored
from infra.event_store import OrjsonTranscoder, PydanticMapper, domain_events
from infra.sealing import unseal
from projections.projection import Row


class SubjectKeys(dict[UUID, AESGCM]):
    """A data key for every subject, made on first use (the key ring's job in a process)."""

    def __missing__(self, subject: UUID) -> AESGCM:
        self[subject] = AESGCM(AESGCM.generate_key(bit_length=256))
        return self[subject]


KEYS = SubjectKeys()
MAPPER = PydanticMapper(transcoder=OrjsonTranscoder())
MAPPER.sealing_keys = KEYS
Evolve = Callable[[Row | None, Envelope], Row | None]


def envelopes(events: Iterable[Any], after: int = 0) -> list[Envelope]:
    """The events as consumers see them once stored (personal fields sealed, then opened), at
    positions after `after`."""
    stored = (MAPPER.to_stored_event(e) for e in events)
    return [
        opened(from_stored(position, str(s.originator_id), s.originator_version, s.topic, s.state))
        for position, s in enumerate(stored, after + 1)
    ]


def opened(event: Envelope) -> Envelope:
    """The event with its sealed personal fields decrypted."""
    data, erased = unseal(event.type, event.data, event.stream_id, event.stream_version, KEYS)
    return replace(event, data=data, erased=erased)


def folded(evolve: Evolve, events: Iterable[Any]) -> Row | None:
    """The read-model row `evolve` folds from the events (all of one key, first one first)."""
    return reduce(evolve, envelopes(events), None)


class ReadModel:
    """One row of a read model, fed with an aggregate's events as they are recorded."""

    def __init__(self, evolve: Evolve) -> None:
        self.evolve, self.position = evolve, 0
        self.row: Row | None = None

    def feed(self, events: list[Any]) -> None:
        """Folds the events into the row."""
        self.row = reduce(self.evolve, envelopes(events, self.position), self.row)
        self.position += len(events)


def replayed(events: Iterable[Any]) -> Any:
    """The aggregate the events give once stored and loaded again."""
    stored = [MAPPER.to_stored_event(e) for e in events]
    rows = [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored]
    return project_aggregate(None, domain_events(rows, lambda _: KEYS))


def state(aggregate: Any) -> dict[str, Any]:
    """An aggregate's state, without the events it has not handed over yet."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
