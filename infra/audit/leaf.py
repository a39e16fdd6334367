"""The bytes a leaf of the audit tree hashes: one stored event, exactly as stored.

    leaf = field(position) || field(stream id) || field(version) || field(topic) || field(state)
    field(x) = uint32 big-endian length of x || x

position and version are unsigned 64-bit big-endian integers (8 bytes), the stream id its 16
UUID bytes, the topic its UTF-8 text, the state the stored bytes as they are (the event's
JSON, with its recorded time, and ciphertext where a field is personal): never decoded, so an
erasure, which only destroys keys, leaves every leaf as it was.
"""

import struct
from uuid import UUID

_HEAD = struct.Struct(">IQI16sIQI")


def leaf_bytes(position: int, stream_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The canonical leaf encoding of one stored event."""
    encoded_topic = topic.encode()
    head = _HEAD.pack(8, position, 16, stream_id.bytes, 8, version, len(encoded_topic))
    return b"".join((head, encoded_topic, len(state).to_bytes(4, "big"), state))
