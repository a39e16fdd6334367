"""Email tracking (no auth): the open pixel and tracked links of campaign emails (CONTRACT.md).

A token names its campaign, customer and link, signed (infra.tracking): a token that does not
verify, or names an email or link that was not sent, is a 404. A click redirects only to the
URL recorded for that link in the customer's EmailSent, never to anything the request names.
"""

import base64
from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api import problems
from api.commanding import read
from commands.campaigns import EmailCommand, RecordEmailClick, RecordEmailOpen
from commands.context import CommandContext, Outcome, Target
from commands.errors import AggregateNotFound
from domain.email_delivery import EmailNotSent, UnknownLink
from infra import tracking

router = APIRouter(prefix="/v1/t", tags=["tracking"], responses=problems.documented(404, 503))

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""A 1x1 transparent GIF."""
ACTOR = "tracking"
"""The actor of events recorded by tracking requests."""
NOT_TRACKED = (AggregateNotFound, EmailNotSent, UnknownLink)
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/o/{token}", response_class=Response, responses={200: {"content": {"image/gif": {}}}})
async def email_opened(request: Request, token: str) -> Response:
    """Record an open of a campaign email; answer a 1x1 transparent GIF."""
    claims = await _claims(request, token)
    if claims.link_index is not None:
        raise _not_found()
    user_agent = (request.headers.get("user-agent") or "")[:500] or None
    await _record(
        request,
        claims.customer_id,
        RecordEmailOpen(campaign_id=claims.campaign_id, user_agent=user_agent),
    )
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/c/{token}", status_code=302, response_class=RedirectResponse)
async def email_clicked(request: Request, token: str) -> RedirectResponse:
    """Record a click on a campaign email's link; redirect to the link it was sent with."""
    claims = await _claims(request, token)
    if claims.link_index is None:
        raise _not_found()
    command = RecordEmailClick(campaign_id=claims.campaign_id, link_index=claims.link_index)
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


async def _record(request: Request, customer_id: UUID, command: EmailCommand) -> Outcome:
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
