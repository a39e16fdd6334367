"""Commands refuse text that PostgreSQL cannot store, naming the field (no I/O)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from commands.base import storable
from commands.customers import LogInteraction, RecordPurchase, RegisterCustomer

NUL, LONE_SURROGATE = "\x00", "\ud800"
ANY_TEXT = st.text(st.characters(exclude_categories=()))  # surrogates included


@pytest.mark.parametrize(
    ("command", "fields", "field"),
    [
        (RegisterCustomer, {"name": f"Ada{NUL}"}, "name"),
        (RegisterCustomer, {"name": "Ada", "address": {"city": f"Par{NUL}is"}}, "address"),
        (RegisterCustomer, {"name": "Ada", "tags": ["vip", LONE_SURROGATE]}, "tags"),
        (RegisterCustomer, {"name": "Ada", "custom_fields": {"tier": f"g{NUL}"}}, "custom_fields"),
        (RecordPurchase, {"order_id": f"A{NUL}1", "total": "1", "currency": "EUR"}, "order_id"),
        (LogInteraction, {"channel": "call", "direction": "inbound", "notes": NUL}, "notes"),
    ],
)
def test_unstorable_text_is_refused_naming_the_field(command, fields, field) -> None:
    with pytest.raises(ValidationError) as refused:
        command.model_validate(fields)
    assert [error["loc"][0] for error in refused.value.errors()] == [field]


@given(st.recursive(ANY_TEXT, lambda inner: st.lists(inner) | st.dictionaries(ANY_TEXT, inner)))
def test_storable_accepts_exactly_what_postgresql_can_store(value) -> None:
    texts = _texts(value)
    if any(NUL in text or _has_surrogate(text) for text in texts):
        with pytest.raises(ValueError, match="NUL|Unicode"):
            storable(value)
    else:
        assert storable(value) is value


def _texts(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    return [t for item in value for t in _texts(item)]


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)
