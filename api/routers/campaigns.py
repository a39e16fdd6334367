"""Email campaigns: draft one, request its send, and read its state and metrics.

The send itself (rendering, SMTP, recording each customer's EmailSent) is the sender's work
(`crm automate`); `POST /send` only records that it is requested.
"""

from functools import partial
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from api import problems
from api.auth import Reader
from api.commanding import aggregate_id, command_route, existing, new_aggregate, read, run
from api.views.campaigns import CampaignMetrics, CampaignView
from commands.campaigns import AddCampaignRecipients, CreateCampaign, RequestCampaignSend
from projections.campaign_recipients import queries as recipients
from projections.campaigns import queries as campaigns

router = APIRouter(
    prefix="/v1/campaigns", tags=["campaigns"], responses=problems.documented(401, 403, 422, 503)
)
command = partial(command_route, router)


@command("POST", "", 201, CreateCampaign, creates=True)
async def create_campaign(request: Request) -> JSONResponse:
    """Draft a campaign: name, subject and body_html (Jinja2), and one audience."""
    return await run(request, CreateCampaign, new_aggregate, router.prefix)


@command("POST", "/{campaign_id}/recipients", 200, AddCampaignRecipients)
async def add_campaign_recipients(request: Request, campaign_id: str) -> JSONResponse:
    """Add customers to a draft campaign's list (up to 10,000 a request; any number in all)."""
    return await run(request, AddCampaignRecipients, existing(campaign_id, "campaign"))


@command("POST", "/{campaign_id}/send", 202, RequestCampaignSend)
async def request_campaign_send(request: Request, campaign_id: str) -> JSONResponse:
    """Ask for a draft campaign to be sent (once: a second request is 409)."""
    return await run(request, RequestCampaignSend, existing(campaign_id, "campaign"))


@router.get(
    "/{campaign_id}",
    response_model=CampaignView,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def get_campaign(
    request: Request, response: Response, campaign_id: str, _: Reader
) -> dict[str, Any]:
    """The current state of one campaign (ETag: its version); counts once it is sent."""
    found = _campaign(request, aggregate_id(campaign_id, "campaign"))
    response.headers["ETag"] = f'"{found["version"]}"'
    return found


@router.get(
    "/{campaign_id}/metrics", response_model=CampaignMetrics, responses=problems.documented(404)
)
def get_campaign_metrics(request: Request, campaign_id: str, _: Reader) -> dict[str, Any]:
    """Sent, suppressed, opened and clicked recipients (machine opens apart), and rates."""
    campaign = aggregate_id(campaign_id, "campaign")
    _campaign(request, campaign)  # 404 for an unknown campaign
    return read(request, recipients.metrics, campaign).shown()


def _campaign(request: Request, campaign_id: UUID) -> dict[str, Any]:
    found = read(request, campaigns.get, campaign_id)
    if found is None:
        raise HTTPException(404, f"no campaign with id {campaign_id}")
    return found
