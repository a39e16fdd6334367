"""Lead commands and queries."""

from functools import partial
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from api import problems
from api.auth import Reader
from api.commanding import aggregate_id, command_route, existing, new_aggregate, read, run
from api.redaction import shown_to
from api.views.leads import LeadView
from commands.leads import (
    CaptureLead,
    ConvertLead,
    DisqualifyLead,
    QualifyLead,
    RecordLeadEngagement,
)
from projections.leads import queries

router = APIRouter(
    prefix="/v1/leads", tags=["leads"], responses=problems.documented(401, 403, 422, 503)
)
command = partial(command_route, router)


def _lead_id(lead_id: str) -> UUID:
    return aggregate_id(lead_id, "lead")


@command("POST", "", 201, CaptureLead, creates=True)
async def capture_lead(request: Request) -> JSONResponse:
    """Capture a lead: scored, assigned to a rep, `duplicate_of` an earlier lead by email."""
    return await run(request, CaptureLead, new_aggregate, located=router.prefix)


@command("POST", "/{lead_id}/qualify", 200, QualifyLead)
async def qualify_lead(request: Request, lead_id: str) -> JSONResponse:
    """Mark a lead qualified."""
    return await run(request, QualifyLead, existing(lead_id, "lead"))


@command("POST", "/{lead_id}/disqualify", 200, DisqualifyLead)
async def disqualify_lead(request: Request, lead_id: str) -> JSONResponse:
    """Mark a lead disqualified, with the reason."""
    return await run(request, DisqualifyLead, existing(lead_id, "lead"))


@command("POST", "/{lead_id}/convert", 200, ConvertLead)
async def convert_lead(request: Request, lead_id: str) -> JSONResponse:
    """Convert a qualified lead into a customer (created, or linked by email), maybe with a
    deal: `{customer_id, deal_id}`."""
    return await run(request, ConvertLead, existing(lead_id, "lead"))


@command("POST", "/{lead_id}/engagements", 201, RecordLeadEngagement)
async def record_engagement(request: Request, lead_id: str) -> JSONResponse:
    """Record an email open or click of the lead; the lead is scored again."""
    return await run(request, RecordLeadEngagement, existing(lead_id, "lead"))


@router.get(
    "/{lead_id}",
    response_model=LeadView,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def get_lead(
    request: Request, response: Response, lead_id: str, principal: Reader
) -> dict[str, Any]:
    """The lead: status, owner, and score with the points each rule gave (ETag: version)."""
    found = read(request, queries.get, _lead_id(lead_id))
    if found is None:
        raise HTTPException(404, f"no lead with id {lead_id}")
    response.headers["ETag"] = f'"{found["version"]}"'
    return shown_to(principal, LeadView.model_validate(found))
