"""Every command handler: importing this module registers them all."""

from commands import (  # noqa: F401 - each module registers its handlers
    campaign_handlers,
    custom_field_handlers,
    customer_handlers,
    deal_handlers,
    lead_handlers,
    segment_handlers,
    sla_handlers,
    ticket_handlers,
)
from commands.registry import HANDLERS

__all__ = ["HANDLERS"]
