"""Personal fields sealed in stored events: each personal field of an event (as the
catalogue marks it) is encrypted with AES-256-GCM under its data subject's key.

A sealed field's value is `{"alg": "A256GCM", "key_id": "<subject id>", "ciphertext":
"<base64 of nonce || ciphertext || tag>"}`; the plaintext is the field's JSON value. The
associated data is `<stream id>/<version>/<field>`: a ciphertext moved to another event,
or to another field, does not decrypt. A null or empty field (`""`, `{}`, `[]`) is left as
it is: it holds nothing.
Pure functions: the keys are given (`infra.data_keys` keeps them).
"""

import base64
import os
from collections.abc import Iterator, Mapping
from typing import Any, TypeGuard
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.events.catalogue import BY_NAME, EventEntry
from domain.events.payload import blank

ALGORITHM = "A256GCM"
NONCE_BYTES = 12
SUBJECT_FIELDS = ("customer_id", "lead_id")
"""Data fields naming an event's subject, if it is not the event's own stream."""


_NOTHING: tuple[Any, ...] = (None, "", {}, [])
"""Values that hold no datum: left as they are."""


def subject_of(data: Mapping[str, Any], stream_id: str) -> UUID:
    """Whose personal data an event holds: the customer (or lead) it names, else its own
    stream's (a customer's or a lead's)."""
    named = next((data[f] for f in SUBJECT_FIELDS if data.get(f)), None)
    return UUID(str(named or stream_id))


def is_sealed(value: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and value.get("alg") == ALGORITHM and "ciphertext" in value


def unsealed_datum(value: Any) -> bool:
    """Whether a personal field's value holds a datum still in the clear."""
    return value not in _NOTHING and not is_sealed(value)


def _aad(stream_id: str, version: int, name: str) -> bytes:
    return f"{stream_id}/{version}/{name}".encode()


def seal(
    entry: EventEntry, data: dict[str, Any], stream_id: str, version: int, key: AESGCM, key_id: UUID
) -> dict[str, Any]:
    """`data` with each personal field of its type encrypted under `key`."""
    sealed = dict(data)
    for name in entry.personal_fields:
        value = data.get(name)
        if not unsealed_datum(value):
            continue
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = key.encrypt(nonce, orjson.dumps(value), _aad(stream_id, version, name))
        sealed[name] = {
            "alg": ALGORITHM,
            "key_id": str(key_id),
            "ciphertext": base64.b64encode(nonce + ciphertext).decode(),
        }
    return sealed


def key_ids(type_name: str, data: Mapping[str, Any]) -> Iterator[UUID]:
    """The ids of the keys that `data`'s sealed fields need."""
    entry = BY_NAME.get(type_name)
    for name in entry.personal_fields if entry else ():
        value = data.get(name)
        if is_sealed(value):
            yield UUID(value["key_id"])


def unseal(
    type_name: str,
    data: dict[str, Any],
    stream_id: str,
    version: int,
    keys: Mapping[UUID, AESGCM | None],
) -> tuple[dict[str, Any], bool]:
    """`data` with its sealed fields decrypted, and whether some could not be: their key is
    destroyed (the subject was erased) or they do not decrypt (moved, or altered). Those
    fields read as their blank (`domain.events.payload.blank`)."""
    entry = BY_NAME.get(type_name)
    sealed = [n for n in entry.personal_fields if is_sealed(data.get(n))] if entry else []
    if not sealed:
        return data, False
    opened, erased = dict(data), False
    for name in sealed:
        value = data[name]
        key = keys.get(UUID(value["key_id"]))
        plaintext = _decrypt(key, value["ciphertext"], _aad(stream_id, version, name))
        if plaintext is None:
            opened[name] = blank(entry.payload.model_fields[name].annotation)  # type: ignore[union-attr]
            erased = True
        else:
            opened[name] = orjson.loads(plaintext)
    return opened, erased


def _decrypt(key: AESGCM | None, ciphertext: str, aad: bytes) -> bytes | None:
    if key is None:
        return None
    raw = base64.b64decode(ciphertext)
    try:
        return key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except InvalidTag:
        return None
