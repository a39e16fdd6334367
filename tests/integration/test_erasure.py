"""Erasure and export over a real PostgreSQL: once an erased customer's events are folded,
no read model, dead letter or claim holds anything of theirs (searched as text), another
customer's data is intact, and the export holds all of a customer until they are erased."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from psycopg import Connection, sql

from api.bootstrap import Container
from commands.campaigns import RecordEmailBounce
from commands.context import Target
from commands.customers import EraseCustomer, GiveFeedback, LogInteraction, RecordPurchase
from commands.deals import LoseDeal, OpenDeal
from commands.leads import CaptureLead, ConvertLead, DealDraft, QualifyLead
from commands.tickets import ChangeTicketStatus, OpenComplaint, RateSatisfaction, ReplyToTicket
from consumers.store_follower import StoreFollower
from domain.errors import CustomerErased
from projections import customer_export
from projections.catalog import PROJECTIONS
from projections.dead_letters import DeadLetter, park
from tests.integration.conftest import context, crm_on, register
from tests.integration.test_campaigns_bus import ACTIONS, send, sending_campaign

SECRET = "Lovelace"  # noqa: S105 - a name, not a password
"""In every personal datum of the erased customer: none may be readable after the erasure."""
KEPT = "Hopper"
"""In the other customer's: all of it stays."""


@pytest.fixture(scope="module")
def crm(new_database) -> Iterator[Container]:
    with crm_on(new_database()) as built:
        yield built


def do(crm: Container, target: UUID, command: Any, creates: bool = False) -> dict[str, Any]:
    return crm.bus.execute(Target(target, creates=creates), command, context()).body


def lived(crm: Container, name: str) -> UUID:
    """A customer whose personal data all holds `name` (their external reference, not
    personal, does not): contact details, a contact's notes, feedback, a ticket with replies
    and a rating, a lost deal, a campaign email clicked and bounced, and a lead converted
    into them with a deal."""
    customer_id = register(
        crm.bus,
        name=f"Ada {name}",
        email=f"ada.{name.lower()}@example.org",
        phone="+44 20 7946 0958",
        address={"line1": f"12 {name} Road", "city": "London"},
        external_ref=f"shop-{name[::-1]}",  # not personal: kept
        consent={"email_marketing": True},
    )
    do(crm, customer_id, RecordPurchase(order_id="A-1", total=Decimal(10), currency="EUR"))
    interaction = LogInteraction(channel="call", direction="inbound", subject=f"{name} call",
                                 notes=f"{name} asked about tea")  # fmt: skip
    do(crm, customer_id, interaction)
    do(crm, customer_id, GiveFeedback(rating=4, comment=f"{name} liked it"))
    ticket = uuid4()
    complaint = OpenComplaint(customer_id=customer_id, subject=f"{name}'s kettle",
                              description=f"Sent to {name}", channel="email")  # fmt: skip
    do(crm, ticket, complaint, creates=True)
    do(crm, ticket, ReplyToTicket(author="agent", body=f"Dear {name}"))
    do(crm, ticket, ReplyToTicket(author="customer", body=f"Thanks, {name}"))
    do(crm, ticket, ChangeTicketStatus(status="solved"))
    do(crm, ticket, RateSatisfaction(rating=5, comment=f"{name} is happy"))
    deal = uuid4()
    opened = OpenDeal(customer_id=customer_id, title=f"Tea for {name}", amount=Decimal(50),
                      currency="EUR", stage="proposal", owner=f"{name}'s friend")  # fmt: skip
    do(crm, deal, opened, creates=True)
    do(crm, deal, LoseDeal(reason=f"{name} chose a rival"))
    campaign = sending_campaign(crm.bus, [customer_id])
    send(crm.bus, campaign, customer_id)
    for action in ("open", "click"):
        do(crm, customer_id, ACTIONS[action](campaign))
    do(crm, customer_id, RecordEmailBounce(campaign_id=campaign, reason=f"550 {name} unknown"))
    lead = uuid4()
    capture = CaptureLead(name=f"Ada {name}", email=f"lead.{name.lower()}@example.org",
                          company=f"{name} Engines", attributes={"mobile": f"{name} 07700"})  # fmt: skip
    do(crm, lead, capture, creates=True)
    do(crm, lead, QualifyLead())
    draft = DealDraft(
        title=f"Pilot for {name}", amount=Decimal(5), currency="EUR", stage="proposal"
    )
    do(crm, lead, ConvertLead(customer_id=customer_id, deal=draft))
    return customer_id


def catch_up(crm: Container) -> None:
    StoreFollower(crm.store, crm.pool, crm.url, list(PROJECTIONS.values())).catch_up()


def readable(conn: Connection[Any]) -> str:
    """Every read model's rows, the dead letters and the unique claims, as text."""
    tables = [*PROJECTIONS, "crm_dead_letters", "crm_unique_claims"]
    return "\n".join(
        text
        for table in tables
        for (text,) in conn.execute(
            sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))
        ).fetchall()
    )


def test_nothing_of_an_erased_customer_is_readable_once_the_read_models_caught_up(crm) -> None:
    # Given two customers with the same kind of life, and a dead letter of the first one's
    erased, kept = lived(crm, SECRET), lived(crm, KEPT)
    catch_up(crm)
    with crm.pool.connection() as conn:
        (registered,) = conn.execute(
            "SELECT min(notification_id) FROM crm_events WHERE originator_id = %s", (erased,)
        ).fetchone()
        letter = DeadLetter("customer_360", f"ValueError('{SECRET}')", SECRET.encode(), registered)
        park(conn, [letter])
        conn.commit()
        assert SECRET in readable(conn) and KEPT in readable(conn)
    # When the first is erased, and the read models have caught up
    answer = do(crm, erased, EraseCustomer(reason="GDPR art. 17"))
    catch_up(crm)
    # Then nothing of them is readable anywhere, and all of the other one is
    assert answer["id"] == str(erased)
    with crm.pool.connection() as conn:
        text = readable(conn)
        assert SECRET not in text and SECRET.lower() not in text
        assert "0958" in text  # the other customer's phone, the same digits
        assert text.count(KEPT) >= 12
        error = conn.execute("SELECT error FROM crm_dead_letters").fetchone()
        assert error == ("ValueError(erased)",)
    # And the command writer's cache holds nothing of them: not their converted lead
    with crm.pool.connection() as conn:
        (lead_id,) = conn.execute(
            "SELECT lead_id FROM leads WHERE customer_id = %s", (erased,)
        ).fetchone()
    lead = crm.store.repository.get(lead_id)
    assert (lead.personal.name, lead.company, lead.attributes) == ("", None, {})
    # And the erased customer's external reference is free for another one
    register(crm.bus, name="Someone", external_ref=f"shop-{SECRET[::-1]}")
    # And nothing more is recorded about them
    with pytest.raises(CustomerErased):
        do(crm, erased, RecordPurchase(order_id="A-2", total=Decimal(1), currency="EUR"))
    # While the other customer's events still read whole
    with crm.pool.connection() as conn:
        document = customer_export.export(conn, kept)
    assert isinstance(document, dict) and document["profile"]["name"] == f"Ada {KEPT}"


def test_the_export_holds_all_of_a_customer_until_they_are_erased(crm) -> None:
    # Given a customer with a life of every kind, the read models caught up
    customer_id = lived(crm, "Babbage")
    catch_up(crm)
    with crm.pool.connection() as conn:
        # When their data is exported
        document = customer_export.export(conn, customer_id)
        # Then it holds their profile, consent, every event in order, and the read models' rows
        assert isinstance(document, dict)
        assert document["profile"]["name"] == "Ada Babbage"
        assert document["profile"]["personal"]["address"]["line1"] == "12 Babbage Road"
        assert document["consent"] == {"email_marketing": True}
        events = document["events"]
        positions = [event["position"] for event in events]
        assert positions == sorted(positions)
        types = {event["type"] for event in events}
        assert {"Customer.Registered", "Ticket.Replied", "Deal.Lost", "Customer.EmailSent",
                "Customer.EmailClicked", "Lead.Captured", "Lead.Converted"} <= types  # fmt: skip
        captured = next(e for e in events if e["type"] == "Lead.Captured")
        assert captured["data"]["company"] == "Babbage Engines"  # decrypted
        models = document["read_models"]
        assert {"customer_360", "tickets", "deals", "leads", "purchases", "ratings",
                "campaign_recipients"} <= models.keys()  # fmt: skip
        assert len(models["deals"]) == 2 and len(models["leads"]) == 1
        assert models["tickets"][0]["replies"][0]["body"] == "Dear Babbage"
    # When they are erased
    do(crm, customer_id, EraseCustomer(reason="GDPR art. 17, request 42"))
    with crm.pool.connection() as conn:
        erasure = customer_export.export(conn, customer_id)
    # Then the export is only when and why
    assert isinstance(erasure, customer_export.Erasure)
    assert erasure.reason == "GDPR art. 17, request 42"
