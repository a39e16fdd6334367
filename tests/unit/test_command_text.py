"""Commands refuse text that PostgreSQL cannot store, and text with control or bidirectional
override characters, naming the field (no I/O)."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from commands.base import (
    FREE_TEXT_PATTERN,
    ONE_LINE_PATTERN,
    multi_line,
    single_line,
    storable,
)
from commands.customers import LogInteraction, RecordPurchase, RegisterCustomer
from commands.deals import OpenDeal
from commands.tickets import ReplyToTicket

NUL, LONE_SURROGATE = "\x00", "\ud800"
DEAL = {"customer_id": "0c7e4a5e-8d43-4b1e-9a53-3f0d2b6c1a10", "title": "Tea", "amount": "1",
        "currency": "EUR", "stage": "prospecting"}  # fmt: skip
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


BIDI_AND_CONTROLS = [
    "\u202e",  # right-to-left override
    "\u202a",  # left-to-right embedding
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
    "\x1b",  # escape (C0)
    "\x7f",  # delete
    "\x85",  # next line (C1)
    "\r",
]


@pytest.mark.parametrize("char", BIDI_AND_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize(
    ("command", "fields", "field"),
    [
        (RegisterCustomer, {"name": "Ada{}Lovelace"}, "name"),
        (RegisterCustomer, {"name": "Ada", "tags": ["v{}ip"]}, "tags.0"),
        (RegisterCustomer, {"name": "Ada", "address": {"city": "Par{}is"}}, "address.city"),
        (
            RegisterCustomer,
            {"name": "Ada", "custom_fields": {"tier": "g{}old"}},
            "custom_fields.tier",
        ),
        (RecordPurchase, {"order_id": "A{}1", "total": "1", "currency": "EUR"}, "order_id"),
        (LogInteraction, {"channel": "call", "direction": "inbound", "notes": "a{}b"}, "notes"),
        (OpenDeal, {**DEAL, "title": "Tea{}pot"}, "title"),
        (ReplyToTicket, {"author": "agent", "body": "Hello{}there"}, "body"),
    ],
)
def test_control_and_bidi_override_characters_are_refused_naming_the_field(
    command, fields, field, char
) -> None:
    given = json.loads(json.dumps(fields).replace("{}", json.dumps(char)[1:-1]))
    with pytest.raises(ValidationError) as refused:
        command.model_validate(given)
    assert [".".join(map(str, e["loc"])) for e in refused.value.errors()] == [field]
    assert f"U+{ord(char):04X}" in refused.value.errors()[0]["msg"]


@pytest.mark.parametrize("char", ["\n", "\t", "\u2028"], ids=["newline", "tab", "U+2028"])
def test_one_line_text_refuses_line_breaks_and_tabs_but_not_zero_width_joiners(char) -> None:
    # Given a name with a line break or tab; When registered; Then refused, naming it
    with pytest.raises(ValidationError) as refused:
        RegisterCustomer.model_validate({"name": f"Ada{char}Lovelace"})
    assert [e["loc"] for e in refused.value.errors()] == [("name",)]
    # And zero-width joiners and non-joiners, which Persian and emoji are written with, are kept
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \U0001f469\u200d\U0001f4bb"
    assert RegisterCustomer.model_validate({"name": persian}).name == persian


def test_free_text_keeps_newlines_and_tabs_but_not_carriage_returns() -> None:
    notes = "Called back:\n\t- wants the blue kettle\n\t- delivery on Friday"
    logged = LogInteraction(channel="call", direction="inbound", notes=notes)
    assert logged.notes == notes
    with pytest.raises(ValidationError):
        LogInteraction(channel="call", direction="inbound", notes=notes.replace("\n", "\r\n"))


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=20))
def test_the_json_schema_pattern_says_what_the_check_refuses(text) -> None:
    # Given any text; When checked as one line, and as free text; Then each check accepts it
    # exactly when its pattern in the JSON schema (the OpenAPI document) matches it
    for check, pattern in ((single_line, ONE_LINE_PATTERN), (multi_line, FREE_TEXT_PATTERN)):
        matches = re.fullmatch(pattern.removesuffix("$") + r"\Z", text) is not None
        try:
            accepted = check(text) == text
        except ValueError:
            accepted = False
        assert accepted == matches
    schema = RegisterCustomer.model_json_schema()
    assert schema["properties"]["name"]["pattern"] == ONE_LINE_PATTERN
