"""Frames between the API process and its command writer: length-prefixed and authenticated.

A frame is a 4-byte big-endian length, then a JSON payload, then a 16-byte keyed BLAKE2b tag
over the frame's number in its direction and the payload. The key is made anew for each
writer process and never leaves the two processes. A reader that meets a frame whose length
is out of bounds or whose tag does not verify (bytes lost, doubled, reordered, or written by
anyone else) raises `ChannelDesync`: nothing of such a frame is ever read as a message, and
the channel is closed (the writer is restarted; the commands in flight fail).
"""

import hashlib
import hmac
import secrets
import struct

TAG_BYTES = 16
MAX_PAYLOAD = 64 * 1024 * 1024
"""The largest payload a reader accepts; a sender splits its messages below it."""
_LENGTH = struct.Struct(">I")
REQUESTS = b"crm-requests"
ANSWERS = b"crm-answers"
"""The two directions: each has its own frame numbers, so a frame cannot be sent back."""


class ChannelDesync(Exception):  # noqa: N818 - a state, not a caller's error
    """The byte stream no longer splits into authentic frames; the channel must be closed."""


def new_key() -> bytes:
    """A fresh 32-byte key for one writer process's channel."""
    return secrets.token_bytes(32)


class FrameWriter:
    """Frames payloads for one direction of a channel."""

    def __init__(self, key: bytes, direction: bytes) -> None:
        self._key, self._direction = key, direction
        self._count = 0

    def frame(self, payload: bytes) -> bytes:
        """The bytes to send for `payload`."""
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
        tag = _tag(self._key, self._direction, self._count, payload)
        self._count += 1
        return _LENGTH.pack(len(payload) + TAG_BYTES) + payload + tag


class FrameReader:
    """Splits one direction's byte stream into payloads, verifying each frame."""

    def __init__(self, key: bytes, direction: bytes) -> None:
        self._key, self._direction = key, direction
        self._count = 0
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """The payloads completed by `data`; ChannelDesync if a frame is not authentic."""
        self._buffer += data
        payloads = []
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if not TAG_BYTES <= length <= MAX_PAYLOAD + TAG_BYTES:
                raise ChannelDesync(f"frame length {length} out of bounds")
            end = _LENGTH.size + length
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[_LENGTH.size : end - TAG_BYTES])
            expected = _tag(self._key, self._direction, self._count, payload)
            if not hmac.compare_digest(expected, self._buffer[end - TAG_BYTES : end]):
                raise ChannelDesync(f"frame {self._count} does not verify")
            del self._buffer[:end]
            self._count += 1
            payloads.append(payload)
        return payloads


def _tag(key: bytes, direction: bytes, count: int, payload: bytes) -> bytes:
    mac = hashlib.blake2b(key=key, digest_size=TAG_BYTES, person=direction)
    mac.update(count.to_bytes(8, "big"))
    mac.update(payload)
    return mac.digest()
