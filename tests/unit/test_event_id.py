"""Event ids: derived from stream and version, exactly as `uuid5` would make them."""

from uuid import uuid5

from hypothesis import given
from hypothesis import strategies as st

from domain.events.envelope import EVENT_ID_NAMESPACE, event_id


@given(st.one_of(st.uuids().map(str), st.text()), st.integers(min_value=0, max_value=2**63))
def test_an_event_id_is_the_uuid5_of_stream_and_version(stream_id: str, version: int) -> None:
    expected = uuid5(EVENT_ID_NAMESPACE, f"{stream_id}/{version}")
    assert event_id(stream_id, version) == str(expected)
