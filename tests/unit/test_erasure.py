"""Erasing a customer, without I/O: the aggregate's rule, and the writer's refusals (410) of
every later command on the customer and on what they own, on the in-memory unit of work."""

from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from commands.context import Outcome, Target
from commands.customers import EXTERNAL_REF, EraseCustomer, LogInteraction
from commands.deals import OpenDeal, WinDeal
from commands.leads import CaptureLead, ConvertLead, QualifyLead
from commands.side_tables import erasure, writes
from commands.tickets import OpenComplaint, ReplyToTicket
from commands.unit_of_work import Changes
from commands.unit_of_work.memory import InMemoryUnitOfWork
from domain.errors import CustomerErased
from domain.values import Personal, Profile
from tests.unit.builders import META, customer
from tests.unit.handling import handle
from tests.unit.test_group_commit import purchase, registered, registration, run, submission

ERASE = EraseCustomer(reason="GDPR art. 17 request LEGAL-1")


def test_erasure_records_the_reason_and_forgets_what_the_aggregate_held_of_the_person() -> None:
    # Given a customer with personal data, profile, custom fields and a sent email's links
    ada = customer(
        email="ada@example.com", custom_fields={"size": 10}, consent={"email_marketing": True}
    )
    ada.record_email_send(uuid4(), "m-1", ("https://shop.example/?u=ada",), META)
    ada.collect_events()
    # When it is erased
    handle(ERASE, ada)
    # Then one event records the reason, and nothing personal is left in the aggregate
    (erased,) = ada.collect_events()
    assert type(erased).__qualname__ == "Customer.Erased"
    assert erased.reason == "GDPR art. 17 request LEGAL-1"
    assert (ada.erased, ada.personal, ada.profile) == (True, Personal(name=""), Profile())
    assert ada.custom_fields == {}
    assert [e.links for e in ada.emails.values()] == [()]
    assert ada.consent == {"email_marketing": True}  # not personal: kept


def test_an_erased_customer_is_not_erased_again() -> None:
    ada = customer()
    ada.erase("first", META)
    with pytest.raises(CustomerErased):
        ada.erase("second", META)


@pytest.mark.parametrize("reason", ["", "   ", "two\nlines"])
def test_an_erasure_states_its_reason_on_one_line(reason: str) -> None:
    with pytest.raises(ValidationError):
        EraseCustomer(reason=reason)


def erased_with_streams(work: InMemoryUnitOfWork) -> tuple[UUID, UUID, UUID]:
    """An erased customer (external ref `shop-1`) with a ticket and a deal: their ids."""
    customer_id = registered(work, external_ref="shop-1")
    ticket, deal = Target(uuid4(), creates=True), Target(uuid4(), creates=True)
    complaint = OpenComplaint(
        customer_id=customer_id, subject="Late", description="x", channel="email"
    )
    opened = OpenDeal(
        customer_id=customer_id, title="Tea", amount=Decimal(5), currency="EUR", stage="proposal"
    )
    assert all(
        isinstance(a, Outcome)
        for a in run(work, submission(ticket, complaint), submission(deal, opened))
    )
    (erased,) = run(work, submission(Target(customer_id), ERASE))
    assert isinstance(erased, Outcome) and erased.status == 200
    return customer_id, ticket.aggregate_id, deal.aggregate_id


def test_every_later_command_on_the_customer_and_what_it_owns_is_refused_as_erased() -> None:
    # Given an erased customer with a ticket and a deal
    work = InMemoryUnitOfWork()
    customer_id, ticket_id, deal_id = erased_with_streams(work)
    stored = sum(len(events) for events in work.events.values())
    # When commands target the customer, its ticket, its deal, or require the customer
    complaint = OpenComplaint(
        customer_id=customer_id, subject="Again", description="y", channel="email"
    )
    answers = run(
        work,
        purchase(customer_id, "A-1"),
        submission(Target(customer_id), LogInteraction(channel="call", direction="inbound")),
        submission(Target(ticket_id), ReplyToTicket(author="agent", body="Hello")),
        submission(Target(deal_id), WinDeal()),
        submission(Target(uuid4(), creates=True), complaint),
        submission(Target(customer_id), ERASE),
    )
    # Then each is refused as erased (410), and nothing more is stored
    assert [type(a) for a in answers] == [CustomerErased] * 6
    assert sum(len(events) for events in work.events.values()) == stored


def test_a_lead_is_not_converted_into_an_erased_customer() -> None:
    work = InMemoryUnitOfWork()
    customer_id, _, _ = erased_with_streams(work)
    lead = Target(uuid4(), creates=True)
    run(work, submission(lead, CaptureLead(name="Grace", email="grace@example.com")))
    run(work, submission(Target(lead.aggregate_id), QualifyLead()))
    (answer,) = run(
        work, submission(Target(lead.aggregate_id), ConvertLead(customer_id=customer_id))
    )
    assert isinstance(answer, CustomerErased)


def test_a_command_batched_after_the_erasure_is_refused_and_the_erasure_kept() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    answers = run(work, submission(Target(customer_id), ERASE), purchase(customer_id, "A-1"))
    assert isinstance(answers[0], Outcome)
    assert isinstance(answers[1], CustomerErased)


def test_the_erasure_releases_the_external_reference_for_another_customer() -> None:
    work = InMemoryUnitOfWork()
    erased_with_streams(work)
    assert (EXTERNAL_REF, "shop-1") not in work.claims
    (again,) = run(work, registration(external_ref="shop-1"))
    assert isinstance(again, Outcome)


def test_a_repeated_erasure_under_its_key_gets_the_first_answer() -> None:
    # Given a customer erased under an Idempotency-Key
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    keyed = {"idempotency_key": "erase-1", "request_hash": "h1"}
    (first,) = run(work, submission(Target(customer_id), ERASE, **keyed))
    # When the same request is sent again
    (repeat,) = run(work, submission(Target(customer_id), ERASE, **keyed))
    # Then it gets the first answer, replayed; without the key, it is refused as erased
    assert isinstance(first, Outcome) and isinstance(repeat, Outcome)
    assert (repeat.body, repeat.replayed) == (first.body, True)
    (unkeyed,) = run(work, submission(Target(customer_id), ERASE))
    assert isinstance(unkeyed, CustomerErased)


def test_the_erasure_transaction_releases_claims_and_destroys_the_data_keys() -> None:
    # Given the changes of a batch that erased a customer
    customer_id = uuid4()
    changes = Changes(erased=[customer_id])
    # Then its side writes are the erasure's: claims released, then keys destroyed
    statements = [statement for statement, _ in writes(changes)]
    assert statements == [statement for statement, _ in erasure(customer_id)]
    assert statements[0].startswith("DELETE FROM crm_unique_claims")
    assert any("crm_data_keys" in statement for statement in statements[1:])


def test_the_writer_notes_the_erased_customer_in_its_changes() -> None:
    work = InMemoryUnitOfWork()
    customer_id = registered(work)
    saved: list[Changes] = []
    save = work.save
    work.save = lambda changes: (saved.append(changes), save(changes))[1]  # type: ignore[method-assign]
    run(work, submission(Target(customer_id), ERASE))
    assert [c.erased for c in saved] == [[customer_id]]
