"""The Kafka lag rule (`projections.status.lag_floor`): a projection never shows lag 0 while
it misses an event the store holds, whatever its partitions have applied, and its lag in
events is never below the number of events it misses.

A random store: events at increasing positions (with gaps), each on a partition; the relay
has had a prefix of them acknowledged; each partition of the projection has applied a prefix
of its own events (possibly past the relay's record: sent, not yet recorded), and a replay
may have put every event up to a floor in.
"""

from dataclasses import dataclass
from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.status import lag_floor


@dataclass(frozen=True)
class Feed:
    positions: list[int]
    partition_of: dict[int, int]
    published: list[int]
    relay_position: int
    applied: dict[int, int]
    floor: int

    @property
    def head(self) -> int:
        return self.positions[-1] if self.positions else 0

    def missing(self) -> list[int]:
        """The events the projection has not applied."""
        return [
            e
            for e in self.positions
            if e > max(self.applied.get(self.partition_of[e], self.floor), self.floor)
        ]

    def lag(self) -> tuple[int | None, int]:
        """M, and the events stored after it (the status's `lag_events`)."""
        after = lag_floor(self.applied, self.published, self.relay_position, self.head, self.floor)
        return after, 0 if after is None else sum(e > after for e in self.positions)


@st.composite
def feeds(draw: st.DrawFn, ahead_of_relay: bool = True) -> Feed:
    partitions = draw(st.integers(1, 5))
    gaps = draw(st.lists(st.integers(1, 3), max_size=30))
    positions = list(accumulate(gaps))
    partition_of = {e: draw(st.integers(0, partitions - 1)) for e in positions}
    acknowledged = draw(st.integers(0, len(positions)))
    relay_position = positions[acknowledged - 1] if acknowledged else 0
    published = [
        max((e for e in positions[:acknowledged] if partition_of[e] == p), default=0)
        for p in range(partitions)
    ]
    if not acknowledged and draw(st.booleans()):
        published = []  # the relay has not recorded its partitions yet
    applied = {}
    for p in range(partitions):
        own = [0, *(e for e in positions if partition_of[e] == p)]
        if not ahead_of_relay:
            own = [e for e in own if e <= (published[p] if published else 0)]
        if (prefix := draw(st.none() | st.integers(0, len(own) - 1))) is not None:
            applied[p] = own[prefix]
    floor = draw(st.integers(0, positions[-1] if positions else 0))
    return Feed(positions, partition_of, published, relay_position, applied, floor)


@settings(max_examples=600, deadline=None)
@given(feeds())
def test_lag_counts_every_missing_event_and_is_never_0_while_one_is_missing(feed: Feed) -> None:
    after, lag_events = feed.lag()
    missing = feed.missing()
    assert lag_events >= len(missing)
    if missing:
        assert after is not None and after < min(missing)
        assert lag_events > 0


@settings(max_examples=600, deadline=None)
@given(feeds(ahead_of_relay=False))
def test_lag_is_0_exactly_when_nothing_is_missing(feed: Feed) -> None:
    # (A projection that applied messages the relay has sent but not recorded yet may show
    # lag until the relay records them: the events after the relay's position are not known
    # to be applied.)
    _, lag_events = feed.lag()
    assert (lag_events == 0) == (not feed.missing())


@settings(max_examples=500, deadline=None)
@given(feeds())
def test_with_one_partition_the_lag_is_exact(feed: Feed) -> None:
    if len(feed.published) == 1:
        assert feed.lag()[1] == len(feed.missing())


def test_a_stalled_partition_lags_from_its_own_position() -> None:
    # Partition 1 has consumed offsets but applied only up to 5, while the relay sent it 12
    assert lag_floor({0: 11, 1: 5}, [11, 12], relay_position=12, head=12) == 5


def test_everything_applied_is_no_lag() -> None:
    assert lag_floor({0: 11, 1: 12}, [11, 12], relay_position=12, head=12) is None


def test_a_relay_behind_the_store_is_lag_from_its_position() -> None:
    assert lag_floor({0: 4, 1: 6}, [4, 6], relay_position=6, head=10) == 6


def test_a_partition_never_consumed_lags_from_the_floor() -> None:
    assert lag_floor({0: 11}, [11, 12], relay_position=12, head=12, floor=3) == 3


def test_without_the_relays_partitions_only_the_floor_is_known() -> None:
    assert lag_floor({0: 11, 1: 12}, [], relay_position=0, head=12, floor=3) == 3
    assert lag_floor({}, [], relay_position=0, head=12, floor=12) is None
    assert lag_floor({}, [], relay_position=0, head=0) is None
