"""Email campaigns: draft one, request its send, and read its state and metrics.

The send itself (rendering, SMTP, recording each customer's EmailSent) is the sender's work
(`crm automate`); `POST /send` only records that it is requested.
"""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response

from api import problems
from api.command_routes import NEW, CommandRoute, add_command_routes, in_path
from api.commanding import aggregate_id, read
from api.policing import PolicedRoute
from api.views.campaigns import CampaignView
from commands.campaigns import AddCampaignRecipients, CreateCampaign, RequestCampaignSend
from projections.campaign_recipients import queries as recipients
from projections.campaigns import queries as campaigns

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/campaigns",
    tags=["campaigns"],
    responses=problems.documented(401, 403, 422, 503),
)


CAMPAIGN = in_path("campaign_id", "campaign")

add_command_routes(
    router,
    CommandRoute(
        "POST",
        CreateCampaign,
        NEW,
        "Draft a campaign: name, subject and body_html (Jinja2), and one audience.",
        located=router.prefix,
    ),
    CommandRoute(
        "POST /{campaign_id}/recipients",
        AddCampaignRecipients,
        CAMPAIGN,
        "Add customers to a draft campaign's list (up to 10,000 a request; any number in all).",
    ),
    CommandRoute(
        "POST /{campaign_id}/send",
        RequestCampaignSend,
        CAMPAIGN,
        "Ask for a draft campaign to be sent (once: a second request is 409).",
    ),
)


@router.get(
    "/{campaign_id}",
    response_model=CampaignView,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def get_campaign(request: Request, response: Response, campaign_id: str) -> dict[str, Any]:
    """The current state of one campaign (ETag: its version); counts once it is sent."""
    found = _campaign(request, aggregate_id(campaign_id, "campaign"))
    response.headers["ETag"] = f'"{found["version"]}"'
    return found


@router.get(
    "/{campaign_id}/metrics", response_model=recipients.Metrics, responses=problems.documented(404)
)
def get_campaign_metrics(request: Request, campaign_id: str) -> recipients.Metrics:
    """Sent, suppressed, opened and clicked recipients (machine opens apart), and rates."""
    campaign = aggregate_id(campaign_id, "campaign")
    _campaign(request, campaign)  # 404 for an unknown campaign
    return read(request, recipients.metrics, campaign)


def _campaign(request: Request, campaign_id: UUID) -> dict[str, Any]:
    found = read(request, campaigns.get, campaign_id)
    if found is None:
        raise HTTPException(404, f"no campaign with id {campaign_id}")
    return found
