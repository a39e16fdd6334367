"""The personal-data policy of answers: analysts get no personal field, at any depth; every
other role gets the answer whole; a redacted answer still fits its response model."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import BaseModel

from api.redaction import personal_fields, sees_personal_data, shown_to
from api.views import customers, leads, tickets
from infra.api_keys import Principal, Role

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
ANALYST = Principal("ann", Role.ANALYST)


def ticket() -> tickets.TicketView:
    reply = {"reply_id": uuid4(), "author": "agent", "at": AT, "body": "Serial number?"}
    return tickets.TicketView.model_validate(
        {
            "id": uuid4(), "customer_id": uuid4(), "version": 3, "kind": "complaint",
            "subject": "Late", "description": "My address is ...", "priority": "high",
            "channel": "email", "order_ref": None, "status": "solved", "opened_at": AT,
            "updated_at": AT, "first_response_at": AT, "first_response_seconds": 0.0,
            "solved_at": AT, "closed_at": None, "reopened": 0, "replies": [reply, reply],
            "satisfaction": {"rating": 2, "at": AT, "comment": "Slow"},
        }
    )  # fmt: skip


def lead() -> leads.LeadView:
    return leads.LeadView.model_validate(
        {
            "id": str(uuid4()), "version": 1, "status": "new", "name": "Grace",
            "email": "grace@example.com", "company": "Navy Labs", "source": None,
            "attributes": {}, "owner_id": None, "duplicate_of": None, "engagement": {},
            "score": {"points": 0, "rules_version": None, "explanation": []},
            "disqualified_reason": None, "customer_id": None, "deal_id": None,
            "captured_at": AT,
        }
    )  # fmt: skip


def test_only_analysts_are_refused_personal_data() -> None:
    assert [r for r in Role if not sees_personal_data(Principal("x", r))] == [Role.ANALYST]


def test_the_personal_fields_are_found_in_nested_models_and_lists() -> None:
    assert personal_fields(customers.CustomerView) == {
        "name": True, "email": True, "phone": True, "personal": True,
    }  # fmt: skip
    assert personal_fields(customers.CustomerSummary) == {"name": True, "email": True}
    assert personal_fields(leads.LeadView) == {"name": True, "email": True}
    assert personal_fields(tickets.TicketView) == {
        "description": True,
        "replies": {"__all__": {"body": True}},
        "satisfaction": {"comment": True},
    }


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ANALYST])
def test_other_roles_get_the_whole_answer(role: Role) -> None:
    for view in (ticket(), lead()):
        assert shown_to(Principal("x", role), view) == view.model_dump()


def test_an_analyst_gets_a_ticket_without_its_free_text() -> None:
    shown = shown_to(ANALYST, ticket())
    assert "description" not in shown
    assert [set(reply) for reply in shown["replies"]] == [{"reply_id", "author", "at"}] * 2
    assert shown["satisfaction"] == {"rating": 2, "at": AT}
    assert shown["subject"] == "Late"


def test_an_analyst_gets_a_lead_without_name_or_email() -> None:
    shown = shown_to(ANALYST, lead())
    assert {"name", "email"} & set(shown) == set()
    assert shown["company"] == "Navy Labs"


def test_fields_not_given_stay_absent() -> None:
    engagement = customers.EmailCounts.model_validate({})  # a row made before engagement
    assert shown_to(Principal("x", Role.SERVICE), engagement) == {}


@pytest.mark.parametrize(
    "model",
    [
        customers.CustomerView,
        leads.LeadView,
        tickets.TicketView,
        tickets.ReplyView,
        tickets.SatisfactionView,
    ],
)
def test_every_personal_field_may_be_left_out(model: type[BaseModel]) -> None:
    for name, hidden in personal_fields(model).items():
        if hidden is True:
            assert not model.model_fields[name].is_required(), f"{model.__name__}.{name}"


def test_a_redacted_answer_fits_its_response_model() -> None:
    for view in (ticket(), lead()):
        shown = shown_to(ANALYST, view)
        assert type(view).model_validate(shown).model_dump(exclude_unset=True) == shown
