"""Handlers of campaign and email commands: `(command, aggregate, id, meta) -> (aggregate,
answer)`, no I/O."""

from typing import cast
from uuid import UUID

from commands.campaigns import (
    AddCampaignRecipients,
    CompleteCampaign,
    CreateCampaign,
    RecordEmailBounce,
    RecordEmailClick,
    RecordEmailOpen,
    RecordEmailSend,
    RequestCampaignSend,
)
from commands.registry import Answer, handles
from domain.aggregate import Aggregate
from domain.campaign import Audience, Campaign
from domain.customer import Customer
from domain.segment import Criteria
from domain.values import Meta


@handles(CreateCampaign, Campaign)
def create_campaign(
    command: CreateCampaign, _: None, campaign_id: UUID, meta: Meta
) -> tuple[Campaign, Answer]:
    segment = command.segment
    audience = Audience(
        segment=Criteria.model_validate(segment.model_dump()) if segment else None,
        segment_id=command.segment_id,
        customer_ids=tuple(dict.fromkeys(command.customer_ids)) if command.customer_ids else None,
    )
    campaign = Campaign.draft(
        campaign_id,
        name=command.name,
        subject=command.subject,
        body_html=command.body_html,
        audience=audience,
        meta=meta,
    )
    return campaign, {}


@handles(AddCampaignRecipients, Campaign)
def add_campaign_recipients(
    command: AddCampaignRecipients, campaign: Campaign, _: UUID, meta: Meta
) -> tuple[Campaign, Answer]:
    campaign.add_recipients(tuple(command.customer_ids), meta)
    return campaign, {}


@handles(RequestCampaignSend, Campaign)
def request_campaign_send(
    _: RequestCampaignSend, campaign: Campaign, __: UUID, meta: Meta
) -> tuple[Campaign, Answer]:
    campaign.request_send(meta)
    return campaign, {}


@handles(CompleteCampaign, Campaign)
def complete_campaign(
    command: CompleteCampaign, campaign: Campaign, _: UUID, meta: Meta
) -> tuple[Campaign, Answer]:
    campaign.complete(command.sent, command.suppressed, meta)
    return campaign, {}


@handles(RecordEmailSend, Customer)
def record_email_send(
    command: RecordEmailSend,
    customer: Customer,
    _: UUID,
    meta: Meta,
    required: dict[UUID, Aggregate],
) -> tuple[Customer, Answer]:
    if command.campaign_id not in customer.emails:
        cast(Campaign, required[command.campaign_id]).check_sending()  # the bus checked its type
    delivery = customer.record_email_send(
        command.campaign_id,
        command.message_id,
        tuple(command.links),
        meta,
        rendered=command.rendered,
    )
    return customer, delivery.model_dump(
        mode="json", include={"outcome", "message_id", "links", "reason"}
    )


@handles(RecordEmailOpen, Customer)
def record_email_open(
    command: RecordEmailOpen, customer: Customer, _: UUID, meta: Meta
) -> tuple[Customer, Answer]:
    customer.record_email_open(
        command.campaign_id, command.user_agent, meta, window=command.dedupe_window
    )
    return customer, {}


@handles(RecordEmailClick, Customer)
def record_email_click(
    command: RecordEmailClick, customer: Customer, _: UUID, meta: Meta
) -> tuple[Customer, Answer]:
    url = customer.record_email_click(
        command.campaign_id, command.link_index, meta, window=command.dedupe_window
    )
    return customer, {"url": url}


@handles(RecordEmailBounce, Customer)
def record_email_bounce(
    command: RecordEmailBounce, customer: Customer, _: UUID, meta: Meta
) -> tuple[Customer, Answer]:
    customer.record_email_bounce(command.campaign_id, command.reason, meta)
    return customer, {}
