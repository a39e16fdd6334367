"""Lead commands and queries."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response

from api import problems
from api.command_routes import NEW, CommandRoute, add_command_routes, in_path
from api.commanding import aggregate_id, read
from api.policing import PolicedRoute
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
    route_class=PolicedRoute,
    prefix="/v1/leads",
    tags=["leads"],
    responses=problems.documented(401, 403, 422, 503),
)


def _lead_id(lead_id: str) -> UUID:
    return aggregate_id(lead_id, "lead")


LEAD = in_path("lead_id", "lead")

add_command_routes(
    router,
    CommandRoute(
        "POST",
        CaptureLead,
        NEW,
        "Capture a lead: scored, assigned to a rep, `duplicate_of` an earlier lead by email.",
        located=router.prefix,
    ),
    CommandRoute("POST /{lead_id}/qualify", QualifyLead, LEAD, "Mark a lead qualified."),
    CommandRoute(
        "POST /{lead_id}/disqualify",
        DisqualifyLead,
        LEAD,
        "Mark a lead disqualified, with the reason.",
    ),
    CommandRoute(
        "POST /{lead_id}/convert",
        ConvertLead,
        LEAD,
        "Convert a qualified lead into a customer (created, or linked by email), maybe with a"
        "\ndeal: `{customer_id, deal_id}`.",
    ),
    CommandRoute(
        "POST /{lead_id}/engagements",
        RecordLeadEngagement,
        LEAD,
        "Record an email open or click of the lead; the lead is scored again.",
        name="record_engagement",
    ),
)


@router.get(
    "/{lead_id}",
    response_model=LeadView,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def get_lead(request: Request, response: Response, lead_id: str) -> dict[str, Any]:
    """The lead: status, owner, and score with the points each rule gave (ETag: version)."""
    found = read(request, queries.get, _lead_id(lead_id))
    if found is None:
        raise HTTPException(404, f"no lead with id {lead_id}")
    response.headers["ETag"] = f'"{found["version"]}"'
    return found
