"""Law: replaying a customer's stored events always gives the same state."""

from uuid import uuid4

from eventsourcing.application import project_aggregate
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.customer import Customer
from domain.errors import CrmError
from infra.event_store import OrjsonTranscoder, PydanticMapper
from tests.strategies import customer_commands, registrations
from tests.unit.handling import handle
from tests.unit.recorded import KEYS


def decide_all(commands: list) -> Customer:
    """Runs commands the way the command bus does; refused ones record nothing."""
    customer_id = uuid4()
    aggregate = None
    for command in commands:
        try:
            aggregate = handle(command, aggregate, target_id=customer_id).aggregate
        except CrmError:
            pass
    return aggregate


def state(customer: Customer) -> dict:
    return {k: v for k, v in vars(customer).items() if k != "_pending_events"}


@settings(max_examples=150)
@given(registrations, st.lists(customer_commands, max_size=25))
def test_replaying_stored_events_gives_the_same_state(registration, commands) -> None:
    # Given a customer shaped by any valid sequence of commands
    live = decide_all([registration, *commands])
    events = live.collect_events()
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    mapper.sealing_keys = KEYS
    # When its events are stored (personal fields sealed) and read back, then replayed (twice)
    stored = [mapper.to_stored_event(e) for e in events]
    first = project_aggregate(None, [mapper.to_domain_event(s) for s in stored])
    second = project_aggregate(None, [mapper.to_domain_event(s) for s in stored])
    # Then the replayed state is the live state, every time
    assert state(first) == state(live)
    assert state(second) == state(live)
    assert first.version == len(events)
