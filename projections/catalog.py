"""Every projection, by name."""

from projections.campaign_recipients.table import PROJECTION as CAMPAIGN_RECIPIENTS
from projections.campaigns.table import PROJECTION as CAMPAIGNS
from projections.customer_360.table import PROJECTION as CUSTOMER_360
from projections.deals.table import PROJECTION as DEALS
from projections.leads.table import PROJECTION as LEADS
from projections.projection import Projection
from projections.purchases.table import PROJECTION as PURCHASES
from projections.ratings.table import PROJECTION as RATINGS
from projections.segments.table import PROJECTION as SEGMENTS
from projections.settings.table import PROJECTION as SETTINGS
from projections.sla.clocks_table import PROJECTION as SLA_CLOCKS
from projections.sla.policies_table import PROJECTION as SLA_POLICIES
from projections.tickets.table import PROJECTION as TICKETS

PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        CUSTOMER_360,
        CAMPAIGN_RECIPIENTS,
        TICKETS,
        DEALS,
        LEADS,
        CAMPAIGNS,
        SETTINGS,
        SEGMENTS,
        PURCHASES,
        SLA_POLICIES,
        SLA_CLOCKS,
        RATINGS,
    )
}
