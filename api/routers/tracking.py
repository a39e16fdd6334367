"""Email tracking (no auth): the open pixel and tracked links of campaign emails.

A token names its campaign, customer and link, encrypted and authenticated (infra.tracking):
a token that does not verify, or names an email or link that was not sent, is a 404. A click
redirects only to the URL recorded for that link in the customer's EmailSent, never to
anything the request names.

Every hit is answered (the GIF, the redirect), but the customer records an open or a click
again only once `CRM_TRACKING_DEDUPE_SECONDS` have passed since the last one recorded (a rule
of the Customer aggregate, so it holds across API processes). Each client address may make
`CRM_TRACKING_RATE_LIMIT` requests (a moving window, counted in memory by each API process);
past it, bad tokens included, the answer is 429 with Retry-After.
"""

import base64
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api import problems
from api.commanding import read
from api.policing import PolicedRoute
from api.rate_limits import RateLimit
from commands.campaigns import RecordEmailClick, RecordEmailOpen, TrackingCommand
from commands.context import CommandContext, Outcome, Target
from commands.errors import AggregateNotFound
from domain.email_delivery import EmailNotSent, UnknownLink
from domain.errors import CustomerErased
from infra import tracking

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""A 1x1 transparent GIF."""
ACTOR = "tracking"
"""The actor of events recorded by tracking requests."""
NOT_TRACKED = (AggregateNotFound, CustomerErased, EmailNotSent, UnknownLink)
"""A link to nothing, or to an erased customer's email: 404, as a token never issued."""
NO_STORE = {"Cache-Control": "no-store"}
TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Too many tracking requests from this client; retry after Retry-After",
        "content": {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}


async def _within_rate_limit(request: Request) -> None:
    """Refuses a client past the rate limit (429, Retry-After); runs on the event loop, so no
    two requests count at once."""
    state = request.app.state
    if getattr(state, "tracking_rate_limit", None) is None:
        state.tracking_rate_limit = RateLimit(state.settings.tracking_rate_limit)
    client = request.client.host if request.client else ""
    wait = state.tracking_rate_limit.retry_after(client)
    if wait is not None:
        raise HTTPException(
            429,
            f"too many tracking requests from this client; retry after {wait} s",
            headers={"Retry-After": str(wait)} | NO_STORE,
        )


router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/t",
    tags=["tracking"],
    responses=problems.documented(404, 503) | TOO_MANY,
    dependencies=[Depends(_within_rate_limit)],
)


@router.get("/o/{token}", response_class=Response, responses={200: {"content": {"image/gif": {}}}})
async def email_opened(request: Request, token: str) -> Response:
    """Record an open of a campaign email (not a repeat of the last one recorded within the
    dedupe window); answer a 1x1 transparent GIF."""
    claims = await _claims(request, token)
    if claims.link_index is not None:
        raise _not_found()
    user_agent = (request.headers.get("user-agent") or "")[:500] or None
    await _record(
        request,
        claims.customer_id,
        RecordEmailOpen(
            campaign_id=claims.campaign_id,
            user_agent=user_agent,
            dedupe_seconds=request.app.state.settings.tracking_dedupe_seconds,
        ),
    )
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/c/{token}", status_code=302, response_class=RedirectResponse)
async def email_clicked(request: Request, token: str) -> RedirectResponse:
    """Record a click on a campaign email's link (not a repeat of the last one recorded within
    the dedupe window); redirect to the link it was sent with, every time."""
    claims = await _claims(request, token)
    if claims.link_index is None:
        raise _not_found()
    command = RecordEmailClick(
        campaign_id=claims.campaign_id,
        link_index=claims.link_index,
        dedupe_seconds=request.app.state.settings.tracking_dedupe_seconds,
    )
    outcome = await _record(request, claims.customer_id, command)
    return RedirectResponse(outcome.body["url"], 302, headers=NO_STORE)


async def _claims(request: Request, token: str) -> tracking.Claims:
    state = request.app.state
    if getattr(state, "tracking_secret", None) is None:
        state.tracking_secret = await run_in_threadpool(
            read, request, tracking.tracking_secret, state.settings
        )
    claims = tracking.verify(state.tracking_secret, token)
    if claims is None:
        raise _not_found()
    return claims


async def _record(request: Request, customer_id: UUID, command: TrackingCommand) -> Outcome:
    context = CommandContext(
        actor=ACTOR,
        correlation_id=request.state.correlation_id,
        causation_id=request.state.request_id,
        received_at=datetime.now(UTC),
    )
    try:
        return await request.app.state.commands.execute(Target(customer_id), command, context)
    except NOT_TRACKED:
        raise _not_found() from None


def _not_found() -> HTTPException:
    return HTTPException(404, "no such tracking link")
