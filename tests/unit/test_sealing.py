"""Personal fields sealed per subject: what a stored event holds, and what opens it."""

import base64
import stat
from pathlib import Path
from uuid import UUID, uuid4

import orjson
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from domain.events.catalogue import BY_NAME
from infra.data_keys import MasterKey, load_master_key
from infra.sealing import is_sealed, key_ids, seal, subject_of, unseal
from infra.settings import Settings

REGISTERED = BY_NAME["Customer.Registered"]
CUSTOMER = UUID("8a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
KEY = AESGCM(AESGCM.generate_key(bit_length=256))
DATA = {
    "external_ref": "shop-7",
    "personal": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "profile": {"website": "https://ada.example"},
    "tags": ["vip"],
    "custom_fields": {"national_id": "AB123456"},
    "consent": {"email_marketing": True},
}


def _sealed(stream: UUID = CUSTOMER, version: int = 1) -> dict[str, object]:
    return seal(REGISTERED, DATA, str(stream), version, KEY, CUSTOMER)


def test_personal_fields_are_sealed_and_the_others_stay_clear() -> None:
    sealed = _sealed()
    assert [n for n, v in sealed.items() if is_sealed(v)] == list(REGISTERED.personal_fields)
    assert {n: sealed[n] for n in ("external_ref", "tags", "consent")} == {
        n: DATA[n] for n in ("external_ref", "tags", "consent")
    }
    assert b"Ada" not in orjson.dumps(sealed) and b"AB123456" not in orjson.dumps(sealed)
    assert set(key_ids(REGISTERED.name, sealed)) == {CUSTOMER}


def test_the_key_opens_what_it_sealed() -> None:
    assert unseal(REGISTERED.name, _sealed(), str(CUSTOMER), 1, {CUSTOMER: KEY}) == (DATA, False)


@given(st.text(), st.one_of(st.none(), st.text()))
def test_any_free_text_comes_back_as_it_was(name: str, email: str | None) -> None:
    data = DATA | {"personal": {"name": name, "email": email}}
    sealed = seal(REGISTERED, data, str(CUSTOMER), 3, KEY, CUSTOMER)
    assert unseal(REGISTERED.name, sealed, str(CUSTOMER), 3, {CUSTOMER: KEY})[0] == data


def test_without_its_key_an_event_reads_as_erased_blanks() -> None:
    data, erased = unseal(REGISTERED.name, _sealed(), str(CUSTOMER), 1, {CUSTOMER: None})
    assert erased
    assert data["personal"] == {"name": ""} and data["profile"] == {}
    assert data["custom_fields"] == {} and data["tags"] == ["vip"]


def test_a_ciphertext_moved_to_another_event_or_field_does_not_open() -> None:
    other_event = _sealed(version=2)
    moved = _sealed() | {"personal": other_event["personal"]}
    assert unseal(REGISTERED.name, moved, str(CUSTOMER), 1, {CUSTOMER: KEY})[1]
    swapped = _sealed() | {"profile": _sealed()["custom_fields"]}
    assert unseal(REGISTERED.name, swapped, str(CUSTOMER), 1, {CUSTOMER: KEY})[1]


def test_a_null_or_empty_personal_field_is_left_as_it_is() -> None:
    entry = BY_NAME["Customer.InteractionLogged"]
    data = {"interaction_id": str(uuid4()), "channel": "call", "direction": "inbound"}
    sealed = seal(entry, data | {"subject": None, "personal": {}}, "s", 1, KEY, CUSTOMER)
    assert sealed["subject"] is None and sealed["personal"] == {}
    sealed = seal(entry, data | {"subject": "", "personal": {"notes": "x"}}, "s", 1, KEY, CUSTOMER)
    assert sealed["subject"] == "" and is_sealed(sealed["personal"])


def test_the_subject_is_the_customer_named_else_the_lead_else_the_stream() -> None:
    ticket, lead = uuid4(), uuid4()
    assert subject_of({"customer_id": str(CUSTOMER)}, str(ticket)) == CUSTOMER
    assert subject_of({"lead_id": str(lead)}, str(uuid4())) == lead
    assert subject_of({"campaign_id": "c"}, str(CUSTOMER)) == CUSTOMER


def test_a_wrapped_data_key_opens_only_for_its_subject() -> None:
    master = MasterKey(bytes(range(32)))
    raw = AESGCM.generate_key(bit_length=256)
    wrapped = master.wrap(CUSTOMER, raw)
    assert master.unwrap(CUSTOMER, wrapped) == raw
    with pytest.raises(InvalidTag):
        master.unwrap(uuid4(), wrapped)
    with pytest.raises(InvalidTag):
        MasterKey(bytes(32)).unwrap(CUSTOMER, wrapped)


def test_the_blind_index_ignores_case_and_spaces_and_depends_on_the_key() -> None:
    master = MasterKey(bytes(range(32)))
    assert master.blind_index(" Ada@Example.com ") == master.blind_index("ada@example.com")
    assert master.blind_index("ada@example.com") != master.blind_index("bob@example.com")
    assert MasterKey(bytes(32)).blind_index("ada@example.com") != master.blind_index(
        "ada@example.com"
    )


def test_a_master_key_is_generated_once_private_and_kept(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, master_key=None)  # type: ignore[call-arg]
    first = load_master_key(settings)
    path = tmp_path / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(settings).check == first.check
    assert len(base64.b64decode(path.read_text())) == 32


def test_a_master_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MasterKey(bytes(16))
