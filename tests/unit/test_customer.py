"""Customer rules, without I/O."""

from copy import deepcopy
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.customer import MAX_CUSTOM_FIELDS, Customer
from domain.errors import InvalidValue, OrderAlreadyRecorded
from tests.unit.builders import META, customer


def test_registration_records_one_event_with_the_personal_group_apart() -> None:
    # Given / When
    registered = customer(email="ada@example.com", tags=("vip", "vip", "b2b"))
    # Then
    (event,) = registered.collect_events()
    assert type(event).__qualname__ == "Customer.Registered"
    assert event.personal.email == "ada@example.com"
    assert event.tags == ("b2b", "vip")
    assert "email" not in event.profile.model_dump()


def test_an_update_that_changes_nothing_records_nothing() -> None:
    # Given
    ada = customer(email="ada@example.com", tags=("vip",))
    ada.collect_events()
    # When
    ada.update(
        personal={"email": "ada@example.com"},
        profile={},
        custom_fields={},
        tags=("vip",),
        consent={},
        meta=META,
    )
    # Then
    assert ada.collect_events() == []


def test_an_update_records_only_what_differs() -> None:
    # Given
    ada = customer(tags=("vip",), consent={"email_marketing": True})
    ada.collect_events()
    # When
    ada.update(
        personal={"phone": "+33 1 23"},
        profile={"source": "fair"},
        custom_fields={"size": 10},
        tags=("b2b",),
        consent={"email_marketing": True, "sms_marketing": False},
        meta=META,
    )
    # Then
    changed, tags, consent = ada.collect_events()
    assert changed.personal == {"phone": "+33 1 23"}
    assert changed.profile == {"source": "fair"}
    assert changed.custom_fields == {"size": 10}
    assert (tags.added, tags.removed) == (("b2b",), ("vip",))
    assert consent.changes == {"sms_marketing": False}
    assert ada.tags == {"b2b"}


def test_a_custom_field_set_to_null_is_removed() -> None:
    ada = customer(custom_fields={"size": 10, "tier": "gold"})
    ada.update(
        personal={}, profile={}, custom_fields={"size": None}, tags=None, consent=None, meta=META
    )
    assert ada.custom_fields == {"tier": "gold"}


def test_the_same_order_is_never_recorded_twice() -> None:
    # Given
    ada = customer()
    purchase = dict(items=(), total=Decimal("9.90"), currency="EUR", payment_method=None, meta=META)
    ada.record_purchase(order_id="A-1", **purchase)
    # When / Then
    with pytest.raises(OrderAlreadyRecorded):
        ada.record_purchase(order_id="A-1", **purchase)
    assert ada.version == 2


def test_a_free_order_is_a_purchase() -> None:
    ada = customer()
    ada.record_purchase(
        order_id="FREE-1",
        items=(),
        total=Decimal(0),
        currency="EUR",
        payment_method=None,
        meta=META,
    )
    assert "FREE-1" in ada.order_ids


def test_ids_come_from_the_caller() -> None:
    chosen = uuid4()
    assert customer(customer_id=chosen).id == chosen
    assert isinstance(customer(), Customer)


def test_a_copy_for_a_command_shares_no_mutable_state() -> None:
    # Given a customer with every kind of mutable state
    ada = customer(tags=("vip",), consent={"email_marketing": True}, custom_fields={"size": 1})
    ada.collect_events()
    # When a copy is changed
    copy = deepcopy(ada)
    copy.update(
        personal={"name": "Eve"},
        profile={},
        custom_fields={"size": 2},
        tags=("b2b",),
        consent={"email_marketing": False},
        meta=META,
    )
    copy.record_purchase(
        order_id="o", items=(), total=Decimal(1), currency="EUR", payment_method=None, meta=META
    )
    # Then the original is untouched
    assert (
        ada.personal.name,
        ada.tags,
        ada.consent,
        ada.custom_fields,
        ada.order_ids,
        ada.version,
    ) == (
        "Ada",
        {"vip"},
        {"email_marketing": True},
        {"size": 1},
        set(),
        1,
    )
    assert ada.collect_events() == []


def change(ada: Customer, **given) -> None:
    fields = {"custom_fields": {}, "consent": None} | given
    ada.update(personal={}, profile={}, tags=None, meta=META, **fields)


def test_custom_fields_and_consent_merge_up_to_a_hundred_and_no_more() -> None:
    # Given a customer with 100 custom fields and 100 consent answers
    ada = customer(
        custom_fields={f"f{i}": i for i in range(MAX_CUSTOM_FIELDS)},
        consent={f"c{i}": True for i in range(100)},
    )
    # When a change would merge in a 101st; Then it is refused naming the field
    with pytest.raises(InvalidValue) as refused:
        change(ada, custom_fields={"one_more": 1})
    assert refused.value.field == "custom_fields"
    with pytest.raises(InvalidValue) as refused:
        change(ada, consent={"sms": True})
    assert refused.value.field == "consent"
    # And one that removes a field (null) to add another, or changes a value, is recorded
    change(ada, custom_fields={"f0": None, "one_more": 1}, consent={"c0": False})
    assert len(ada.custom_fields) == MAX_CUSTOM_FIELDS
    assert ada.custom_fields["one_more"] == 1
    assert ada.consent["c0"] is False
