"""Every projection, by name."""

from projections.campaign_recipients.table import PROJECTION as CAMPAIGN_RECIPIENTS
from projections.customer_360.table import PROJECTION as CUSTOMER_360
from projections.projection import Projection

PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        CUSTOMER_360,
        CAMPAIGN_RECIPIENTS,
    )
}
