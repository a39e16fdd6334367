"""How leads are scored and assigned: read it, and (admin) set it. Every change is an event
of the lead scoring or sales team aggregate, so the auditor sees who changed what, when."""

from typing import Any

from fastapi import APIRouter, Request, Response

from api import problems
from api.command_routes import CommandRoute, add_command_routes, fixed
from api.commanding import read
from api.policing import PolicedRoute
from api.views.settings import SalesRepsView, ScoringRulesView
from commands.leads import SetSalesReps, SetScoringRules
from domain.lead_scoring import LEAD_SCORING_ID
from domain.sales_team import SALES_TEAM_ID
from projections.settings import queries

router = APIRouter(
    route_class=PolicedRoute,
    tags=["lead settings"],
    responses=problems.documented(401, 403, 422, 503),
)


@router.get("/v1/lead-scoring/rules", response_model=ScoringRulesView)
def get_scoring_rules(request: Request, response: Response) -> dict[str, Any]:
    """The scoring rules in force (ETag: the configuration's version)."""
    scoring: queries.LeadScoringRules = read(request, queries.scoring_rules)
    response.headers["ETag"] = f'"{scoring.version}"'
    return {
        "version": scoring.version,
        **scoring.rules.model_dump(mode="json", exclude={"version"}),
        "rules_version": scoring.rules.version,
    }


add_command_routes(
    router,
    CommandRoute(
        "PUT /v1/lead-scoring/rules",
        SetScoringRules,
        fixed(LEAD_SCORING_ID),
        "Put scoring rules in force for leads captured or engaged from now on (admin only).",
        admin=True,
    ),
    CommandRoute(
        "PUT /v1/sales-reps",
        SetSalesReps,
        fixed(SALES_TEAM_ID),
        "Set the sales reps (round-robin order, active or not, territories) (admin only).",
        admin=True,
    ),
)


@router.get("/v1/sales-reps", response_model=SalesRepsView)
def get_sales_reps(request: Request, response: Response) -> dict[str, Any]:
    """The reps leads are assigned to, and the lead attribute their territories match."""
    team: queries.SalesReps = read(request, queries.sales_reps)
    response.headers["ETag"] = f'"{team.version}"'
    return {
        "version": team.version,
        "territory_attribute": team.territory_attribute,
        "reps": [rep.model_dump(mode="json") for rep in team.reps],
    }
