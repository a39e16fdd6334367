"""The audit log's documented encodings: a leaf, a signed tree head, a bundle (no I/O)."""

import base64
import hashlib
from pathlib import Path
from uuid import UUID

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from infra.audit import bundle
from infra.audit.leaf import leaf_bytes
from infra.audit.merkle import Frontier, inclusion_plan, leaf_hash, resolve
from infra.audit.signing import (
    TreeHead,
    head_signed_by,
    key_id,
    parse_public_key,
    public_key_text,
    sign_head,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
STREAM = UUID("0c59c22f-5fc0-402b-ad6f-fd88c60f3ae2")
DOCS = Path(__file__).parents[2] / "docs" / "audit.md"


def test_a_leaf_is_five_length_prefixed_fields() -> None:
    leaf = leaf_bytes(7, STREAM.bytes, 2, "domain:Customer.Registered", b'{"a":1}')
    assert leaf == (
        b"\x00\x00\x00\x08" + (7).to_bytes(8, "big")
        + b"\x00\x00\x00\x10" + STREAM.bytes
        + b"\x00\x00\x00\x08" + (2).to_bytes(8, "big")
        + b"\x00\x00\x00\x1a" + b"domain:Customer.Registered"
        + b"\x00\x00\x00\x07" + b'{"a":1}'
    )  # fmt: skip


def test_a_signed_head_verifies_with_its_key_only() -> None:
    head = sign_head(KEY, 5, bytes(range(32)), 1_700_000_000_000)
    message = b"crm-audit-tree-head-v1\x00" + (5).to_bytes(8, "big")
    message += (1_700_000_000_000).to_bytes(8, "big") + bytes(range(32))
    KEY.public_key().verify(head.signature, message)  # the documented bytes
    assert head_signed_by(KEY.public_key(), head)
    assert TreeHead.from_json(head.as_json()) == head
    other = Ed25519PrivateKey.generate().public_key()
    assert not head_signed_by(other, head)
    for changed in (
        TreeHead(6, head.root_hash, head.timestamp, head.key_id, head.signature),
        TreeHead(5, bytes(32), head.timestamp, head.key_id, head.signature),
        TreeHead(5, head.root_hash, head.timestamp + 1, head.key_id, head.signature),
        TreeHead(5, head.root_hash, head.timestamp, key_id(other), head.signature),
    ):
        assert not head_signed_by(KEY.public_key(), changed)


def test_the_key_id_is_the_sha256_of_the_subject_public_key_info() -> None:
    der = KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_id(KEY.public_key()) == hashlib.sha256(der).hexdigest()
    text = public_key_text(KEY.public_key())
    assert len(base64.b64decode(text)) == 32
    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_id(parse_public_key(text)) == key_id(parse_public_key(pem.decode()))


def _bundle(states: list[bytes]) -> bytes:
    rows = [(10 + 3 * i, STREAM, i + 1, "tests:Synthetic", state) for i, state in enumerate(states)]
    border, nodes = Frontier(), {}
    for index, row in enumerate(rows):
        hashed = leaf_hash(leaf_bytes(row[0], STREAM.bytes, *row[2:]))
        nodes[(0, index)] = hashed
        nodes.update(border.append(hashed))
    head = sign_head(KEY, border.size, border.root(), 1_700_000_000_000)
    events = [
        bundle.StoredEvent(*row, index, resolve(inclusion_plan(index, border.size), nodes), {})
        for index, row in enumerate(rows)
    ]
    return bundle.dumps(KEY, STREAM, head, events)


@given(st.lists(st.binary(max_size=20), min_size=1, max_size=9), st.data())
def test_a_bundle_verifies_and_any_changed_byte_fails(
    states: list[bytes], data: st.DataObject
) -> None:
    exported = _bundle(states)
    assert bundle.verify(exported, KEY.public_key()).verified
    offset = data.draw(st.integers(0, len(exported) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(exported)
    changed[offset] ^= flip
    assert not bundle.verify(bytes(changed), KEY.public_key()).verified


def test_the_documented_independent_check_accepts_a_bundle_and_refuses_a_changed_one(
    tmp_path: Path,
) -> None:
    recipe = DOCS.read_text().split("### An independent check", 1)[1]
    code = recipe.split("```python\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "bundle.json"
    exported = _bundle([b'{"a": 1}', b'{"b": 2}', b"\x00\xff"])
    setup = f"BUNDLE, PUBLIC_KEY = {str(path)!r}, {public_key_text(KEY.public_key())!r}"
    code = code.replace('BUNDLE, PUBLIC_KEY = "bundle.json", "...the base64 public key..."', setup)
    path.write_bytes(exported)
    exec(code, {"__name__": "recipe"})  # noqa: S102 - the docs' own code
    state = base64.b64encode(b'{"b": 2}').decode()
    path.write_bytes(exported.replace(state.encode(), base64.b64encode(b'{"b": 3}')))
    with pytest.raises(AssertionError, match="position 13 is not in the signed tree"):
        exec(code, {"__name__": "recipe"})  # noqa: S102
