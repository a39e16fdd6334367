"""Which aggregate each command acts on, and the handler that decides it.

`COMMAND_HANDLERS` is the one list of the commands the writer takes: a command type maps to
the type of the aggregate it targets and its handler (see `commands.handling`).
"""

from typing import NamedTuple

from commands import (
    campaign_handlers,
    custom_field_handlers,
    customer_handlers,
    deal_handlers,
    lead_handlers,
    segment_handlers,
    sla_handlers,
    ticket_handlers,
)
from commands.base import Command
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
from commands.custom_fields import DefineCustomField
from commands.customers import (
    ChangeCustomer,
    EraseCustomer,
    GiveFeedback,
    LogInteraction,
    RecordPurchase,
    RegisterCustomer,
)
from commands.deals import (
    ChangeDealAmount,
    ConfigureStages,
    LoseDeal,
    MoveDeal,
    OpenDeal,
    ReopenDeal,
    WinDeal,
)
from commands.handling import Handler
from commands.leads import (
    CaptureLead,
    ConvertLead,
    DisqualifyLead,
    QualifyLead,
    RecordLeadEngagement,
    SetSalesReps,
    SetScoringRules,
)
from commands.segments import DefineSegment, RedefineSegment
from commands.sla import RecordSlaBreach, SetSlaPolicy
from commands.tickets import ChangeTicketStatus, OpenComplaint, RateSatisfaction, ReplyToTicket
from domain.aggregate import Aggregate
from domain.campaign import Campaign
from domain.custom_fields import CustomFieldSchema
from domain.customer import Customer
from domain.deal import Deal
from domain.lead import Lead
from domain.lead_scoring import LeadScoring
from domain.pipeline import Pipeline
from domain.sales_team import SalesTeam
from domain.segment import Segment
from domain.sla_policy import SlaPolicy
from domain.ticket import Ticket


class Handling(NamedTuple):
    """The aggregate type a command acts on, and its handler."""

    aggregate: type[Aggregate]
    handler: Handler


COMMAND_HANDLERS: dict[type[Command], Handling] = {
    CreateCampaign: Handling(Campaign, campaign_handlers.create_campaign),
    AddCampaignRecipients: Handling(Campaign, campaign_handlers.add_campaign_recipients),
    RequestCampaignSend: Handling(Campaign, campaign_handlers.request_campaign_send),
    CompleteCampaign: Handling(Campaign, campaign_handlers.complete_campaign),
    RecordEmailSend: Handling(Customer, campaign_handlers.record_email_send),
    RecordEmailOpen: Handling(Customer, campaign_handlers.record_email_open),
    RecordEmailClick: Handling(Customer, campaign_handlers.record_email_click),
    RecordEmailBounce: Handling(Customer, campaign_handlers.record_email_bounce),
    DefineCustomField: Handling(CustomFieldSchema, custom_field_handlers.define_custom_field),
    RegisterCustomer: Handling(Customer, customer_handlers.register_customer),
    ChangeCustomer: Handling(Customer, customer_handlers.change_customer),
    LogInteraction: Handling(Customer, customer_handlers.log_interaction),
    RecordPurchase: Handling(Customer, customer_handlers.record_purchase),
    GiveFeedback: Handling(Customer, customer_handlers.give_feedback),
    EraseCustomer: Handling(Customer, customer_handlers.erase_customer),
    OpenDeal: Handling(Deal, deal_handlers.open_deal),
    MoveDeal: Handling(Deal, deal_handlers.move_deal),
    ReopenDeal: Handling(Deal, deal_handlers.reopen_deal),
    ChangeDealAmount: Handling(Deal, deal_handlers.change_deal_amount),
    WinDeal: Handling(Deal, deal_handlers.win_deal),
    LoseDeal: Handling(Deal, deal_handlers.lose_deal),
    ConfigureStages: Handling(Pipeline, deal_handlers.configure_stages),
    CaptureLead: Handling(Lead, lead_handlers.capture_lead),
    QualifyLead: Handling(Lead, lead_handlers.qualify_lead),
    DisqualifyLead: Handling(Lead, lead_handlers.disqualify_lead),
    ConvertLead: Handling(Lead, lead_handlers.convert_lead),
    RecordLeadEngagement: Handling(Lead, lead_handlers.record_lead_engagement),
    SetScoringRules: Handling(LeadScoring, lead_handlers.set_scoring_rules),
    SetSalesReps: Handling(SalesTeam, lead_handlers.set_sales_reps),
    DefineSegment: Handling(Segment, segment_handlers.define_segment),
    RedefineSegment: Handling(Segment, segment_handlers.redefine_segment),
    SetSlaPolicy: Handling(SlaPolicy, sla_handlers.set_sla_policy),
    RecordSlaBreach: Handling(Ticket, sla_handlers.record_sla_breach),
    OpenComplaint: Handling(Ticket, ticket_handlers.open_complaint),
    ReplyToTicket: Handling(Ticket, ticket_handlers.reply_to_ticket),
    ChangeTicketStatus: Handling(Ticket, ticket_handlers.change_ticket_status),
    RateSatisfaction: Handling(Ticket, ticket_handlers.rate_satisfaction),
}
"""Command type -> (the aggregate type it acts on, its handler)."""
