"""Campaign rules and the email rules of a customer, without I/O."""

from datetime import timedelta
from uuid import uuid4

import pytest

from domain.campaign import (
    Audience,
    Campaign,
    CampaignAlreadySent,
    CampaignNotSending,
    CampaignStatus,
)
from domain.customer import Customer
from domain.email_delivery import EmailNotSent, Outcome, UnknownLink, machine_open
from domain.errors import InvalidValue
from domain.segment import Criteria
from projections.campaigns.evolve import evolve
from tests.unit.builders import META, customer
from tests.unit.recorded import folded, replayed

SENT_AT = META.occurred_at
LATER = META.model_copy(update={"occurred_at": SENT_AT + timedelta(minutes=5)})
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def campaign(**audience: object) -> Campaign:
    return Campaign.draft(
        uuid4(),
        name="Spring",
        subject="Hi {{ customer.name }}",
        body_html="<p>Hello</p>",
        audience=Audience(**(audience or {"segment": Criteria(tag="vip")})),  # type: ignore[arg-type]
        meta=META,
    )


def subscriber() -> Customer:
    return customer(email="ada@example.com", consent={"email_marketing": True})


def test_a_campaign_goes_from_draft_to_sending_to_sent_once() -> None:
    spring = campaign()
    assert spring.status == CampaignStatus.DRAFT
    spring.request_send(META)
    assert spring.status == CampaignStatus.SENDING
    with pytest.raises(CampaignAlreadySent):
        spring.request_send(META)
    spring.complete(3, 1, META)
    spring.complete(3, 1, META)  # the sender's retry records nothing
    recorded = spring.collect_events()
    row = folded(evolve, recorded)
    assert (spring.status, row["status"], row["sent"], row["suppressed"]) == (
        CampaignStatus.SENT, "sent", 3, 1,
    )  # fmt: skip
    assert [type(e).__name__ for e in recorded] == ["Drafted", "SendRequested", "Completed"]
    with pytest.raises(CampaignAlreadySent):
        spring.request_send(META)


def test_a_draft_cannot_be_completed() -> None:
    with pytest.raises(CampaignNotSending):
        campaign().complete(0, 0, META)


@pytest.mark.parametrize(
    "audience",
    [{}, {"segment": Criteria(tag="vip"), "customer_ids": (uuid4(),)}],
)
def test_an_audience_is_given_in_exactly_one_way(audience: dict) -> None:
    with pytest.raises(InvalidValue) as refused:
        Campaign.draft(
            uuid4(), name="n", subject="s", body_html="b", audience=Audience(**audience), meta=META
        )
    assert refused.value.field == "segment"


def test_a_template_that_does_not_compile_is_refused() -> None:
    with pytest.raises(InvalidValue) as refused:
        Campaign.draft(
            uuid4(), name="n", subject="{% if %}", body_html="b",
            audience=Audience(customer_ids=(uuid4(),)), meta=META,
        )  # fmt: skip
    assert refused.value.field == "subject"


def test_a_customer_is_sent_a_campaign_once_and_a_repeat_answers_the_first() -> None:
    ada, campaign_id = subscriber(), uuid4()
    ada.collect_events()
    first = ada.record_email_send(campaign_id, "<m1@crm>", ("https://a.example",), META)
    again = ada.record_email_send(campaign_id, "<m2@crm>", ("https://b.example",), LATER)
    assert first == again
    assert (first.outcome, first.message_id, first.links) == (
        Outcome.SENT, "<m1@crm>", ("https://a.example",),
    )  # fmt: skip
    assert [type(e).__name__ for e in ada.collect_events()] == ["EmailSent"]


@pytest.mark.parametrize(
    ("email", "consent", "reason"),
    [("ada@example.com", {}, "no-consent"), ("ada@example.com", {"email_marketing": False}, "no-consent"),
     (None, {"email_marketing": True}, "no-email")],
)  # fmt: skip
def test_without_consent_or_address_the_email_is_suppressed(email, consent, reason) -> None:
    ada = customer(email=email, consent=consent)
    ada.collect_events()
    delivery = ada.record_email_send(uuid4(), "<m@crm>", (), META)
    assert (delivery.outcome, delivery.reason) == (Outcome.SUPPRESSED, reason)
    (event,) = ada.collect_events()
    assert type(event).__name__ == "EmailSuppressed"
    with pytest.raises(EmailNotSent):
        ada.record_email_open(event.campaign_id, BROWSER, LATER)


def test_an_email_that_did_not_render_is_suppressed_once_consent_and_address_hold() -> None:
    # Given a subscriber, and a customer without consent
    ada, eve = subscriber(), customer(email="eve@example.com", consent={})
    campaign_id = uuid4()
    # When their copies of a campaign did not render
    ada_delivery = ada.record_email_send(campaign_id, "<m@crm>", (), META, rendered=False)
    eve_delivery = eve.record_email_send(campaign_id, "<m@crm>", (), META, rendered=False)
    # Then the subscriber's is suppressed as render-failed, the other's for want of consent
    assert (ada_delivery.outcome, ada_delivery.reason) == (Outcome.SUPPRESSED, "render-failed")
    assert eve_delivery.reason == "no-consent"
    # And a repeat that renders answers the first outcome
    assert ada.record_email_send(campaign_id, "<m@crm>", (), LATER) == ada_delivery


def test_opens_clicks_and_bounces_need_the_email_sent() -> None:
    ada = subscriber()
    for record in (
        lambda: ada.record_email_open(uuid4(), BROWSER, LATER),
        lambda: ada.record_email_click(uuid4(), 0, LATER),
        lambda: ada.record_email_bounce(uuid4(), "550 no such user", LATER),
    ):
        with pytest.raises(EmailNotSent):
            record()


def test_a_click_names_a_link_of_the_email_sent_by_index() -> None:
    ada, campaign_id = subscriber(), uuid4()
    ada.record_email_send(campaign_id, "<m@crm>", ("https://a.example", "https://b.example"), META)
    assert ada.record_email_click(campaign_id, 1, LATER) == "https://b.example"
    with pytest.raises(UnknownLink):
        ada.record_email_click(campaign_id, 2, LATER)
    assert type(ada.collect_events()[-1]).__name__ == "EmailClicked"


def test_an_open_is_a_machine_open_for_a_proxy_or_right_after_sending() -> None:
    ada, campaign_id = subscriber(), uuid4()
    ada.record_email_send(campaign_id, "<m@crm>", (), META)
    ada.collect_events()
    ada.record_email_open(campaign_id, BROWSER, LATER)
    ada.record_email_open(campaign_id, "Mozilla/5.0", LATER)
    ada.record_email_open(campaign_id, BROWSER, META)
    opens = [(e.machine, e.why) for e in ada.collect_events()]
    assert opens == [
        (False, None),
        (True, "apple-mail-privacy-protection"),
        (True, "within-10s-of-sending"),
    ]


@pytest.mark.parametrize(
    ("user_agent", "seconds", "why"),
    [
        ("Mozilla/5.0", 3600, "apple-mail-privacy-protection"),
        ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", 3600, "image-proxy:GoogleImageProxy"),
        ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", 3600, "image-proxy:YahooMailProxy"),
        (BROWSER, 9, "within-10s-of-sending"),
        (BROWSER, -2, "within-10s-of-sending"),
        (BROWSER, 10, None),
        (None, 60, None),
    ],
)  # fmt: skip
def test_machine_open_rules(user_agent: str | None, seconds: int, why: str | None) -> None:
    assert machine_open(user_agent, SENT_AT, SENT_AT + timedelta(seconds=seconds)) == why


def test_a_second_bounce_records_nothing() -> None:
    ada, campaign_id = subscriber(), uuid4()
    ada.record_email_send(campaign_id, "<m@crm>", (), META)
    ada.collect_events()
    ada.record_email_bounce(campaign_id, "550", LATER)
    ada.record_email_bounce(campaign_id, "550", LATER)
    assert [type(e).__name__ for e in ada.collect_events()] == ["EmailBounced"]


def test_a_list_is_drafted_in_parts_each_customer_once() -> None:
    first, second, third = uuid4(), uuid4(), uuid4()
    spring = campaign(customer_ids=(first,))
    spring.add_recipients((second, first, second), META)
    spring.add_recipients((first,), META)  # nothing new: nothing recorded
    assert spring.audience.customer_ids == (first, second)
    recorded = spring.collect_events()
    assert [type(e).__name__ for e in recorded] == ["Drafted", "RecipientsAdded"]
    spring.add_recipients((third,), META)
    recorded += spring.collect_events()
    assert spring.audience.customer_ids == (first, second, third)
    assert replayed(recorded).audience == spring.audience


def test_recipients_join_only_a_draft_of_listed_customers() -> None:
    with pytest.raises(InvalidValue) as refused:
        campaign().add_recipients((uuid4(),), META)
    assert refused.value.field == "customer_ids"
    sending = campaign(customer_ids=(uuid4(),))
    sending.request_send(META)
    with pytest.raises(CampaignAlreadySent):
        sending.add_recipients((uuid4(),), META)
