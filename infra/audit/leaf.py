"""The bytes a leaf of the audit tree hashes: one stored event, exactly as stored.

    leaf = field(position) || field(stream id) || field(version) || field(topic) || field(state)
    field(x) = uint32 big-endian length of x || x

position and version are unsigned 64-bit big-endian integers (8 bytes), the stream id its 16
UUID bytes, the topic its UTF-8 text, the state the stored bytes as they are (the event's
JSON, with its recorded time, and ciphertext where a field is personal): never decoded, so an
erasure, which only destroys keys, leaves every leaf as it was.
"""

import struct

from infra.event_store import EVENTS_TABLE

_HEAD = struct.Struct(">IQI16sIQI")

LEAF_COLUMNS = "notification_id, uuid_send(originator_id), originator_version, topic, state"
"""The columns of an event that `leaf_bytes` takes, in its order (the stream id as 16 bytes)."""

EVENTS_AFTER = (
    f"SELECT {LEAF_COLUMNS} FROM {EVENTS_TABLE}"  # noqa: S608
    " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
)
"""The events after a position, oldest first, at most so many (read in binary)."""


def leaf_bytes(position: int, stream_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """The canonical leaf encoding of one stored event (`stream_id`: the UUID's 16 bytes)."""
    encoded_topic = topic.encode()
    head = _HEAD.pack(8, position, 16, stream_id, 8, version, len(encoded_topic))
    return b"".join((head, encoded_topic, len(state).to_bytes(4, "big"), state))
