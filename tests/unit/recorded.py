"""What aggregates recorded, as stored and as read models fold it: tests check what is shown
there, since aggregates keep only the state their decisions need."""

from collections.abc import Callable, Iterable
from functools import reduce
from typing import Any

from eventsourcing.application import project_aggregate

from domain.events.envelope import Envelope, from_stored
from infra.event_store import OrjsonTranscoder, PydanticMapper
from projections.projection import Row

MAPPER = PydanticMapper(transcoder=OrjsonTranscoder())
Evolve = Callable[[Row | None, Envelope], Row | None]


def envelopes(events: Iterable[Any], after: int = 0) -> list[Envelope]:
    """The events as consumers see them once stored, at positions after `after`."""
    stored = (MAPPER.to_stored_event(e) for e in events)
    return [
        from_stored(position, str(s.originator_id), s.originator_version, s.topic, s.state)
        for position, s in enumerate(stored, after + 1)
    ]


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
    return project_aggregate(None, [MAPPER.to_domain_event(s) for s in stored])


def state(aggregate: Any) -> dict[str, Any]:
    """An aggregate's state, without the events it has not handed over yet."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
