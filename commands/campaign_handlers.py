"""Handlers of campaign and email commands (see `commands.handling`)."""

from typing import cast

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
from commands.handling import Decide, Decision
from domain.campaign import Audience, Campaign
from domain.customer import Customer
from domain.segment import Criteria


def create_campaign(command: CreateCampaign, ctx: Decide[Campaign]) -> Decision:
    segment = command.segment
    audience = Audience(
        segment=Criteria.model_validate(segment.model_dump()) if segment else None,
        segment_id=command.segment_id,
        customer_ids=tuple(dict.fromkeys(command.customer_ids)) if command.customer_ids else None,
    )
    campaign = Campaign.draft(
        ctx.target_id,
        name=command.name,
        subject=command.subject,
        body_html=command.body_html,
        audience=audience,
        meta=ctx.meta,
    )
    return Decision(campaign)


def add_campaign_recipients(command: AddCampaignRecipients, ctx: Decide[Campaign]) -> Decision:
    ctx.aggregate.add_recipients(tuple(command.customer_ids), ctx.meta)
    return Decision(ctx.aggregate)


def request_campaign_send(_: RequestCampaignSend, ctx: Decide[Campaign]) -> Decision:
    ctx.aggregate.request_send(ctx.meta)
    return Decision(ctx.aggregate)


def complete_campaign(command: CompleteCampaign, ctx: Decide[Campaign]) -> Decision:
    ctx.aggregate.complete(command.sent, command.suppressed, ctx.meta)
    return Decision(ctx.aggregate)


def record_email_send(command: RecordEmailSend, ctx: Decide[Customer]) -> Decision:
    customer = ctx.aggregate
    if command.campaign_id not in customer.emails:
        campaign = ctx.given[command.campaign_id]  # required: the writer checked its type
        cast(Campaign, campaign).check_sending()
    delivery = customer.record_email_send(
        command.campaign_id,
        command.message_id,
        tuple(command.links),
        ctx.meta,
        rendered=command.rendered,
    )
    answer = delivery.model_dump(mode="json", include={"outcome", "message_id", "links", "reason"})
    return Decision(customer, answer)


def record_email_open(command: RecordEmailOpen, ctx: Decide[Customer]) -> Decision:
    ctx.aggregate.record_email_open(
        command.campaign_id, command.user_agent, ctx.meta, window=command.dedupe_window
    )
    return Decision(ctx.aggregate)


def record_email_click(command: RecordEmailClick, ctx: Decide[Customer]) -> Decision:
    url = ctx.aggregate.record_email_click(
        command.campaign_id, command.link_index, ctx.meta, window=command.dedupe_window
    )
    return Decision(ctx.aggregate, {"url": url})


def record_email_bounce(command: RecordEmailBounce, ctx: Decide[Customer]) -> Decision:
    ctx.aggregate.record_email_bounce(command.campaign_id, command.reason, ctx.meta)
    return Decision(ctx.aggregate)
