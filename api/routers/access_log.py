"""Who read a customer's personal data: the customer's access log (auditors, admins)."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from api import problems
from api.commanding import aggregate_id, read
from api.page_cursors import last_key
from api.policing import PolicedRoute
from infra import access_log
from infra import page_cursor as cursor_codec

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/customers",
    tags=["customers"],
    responses=problems.documented(401, 403, 422),
)


class AccessEntry(BaseModel):
    """One read of the customer's personal data: by which key's principal and role, through
    which route, when, and in which request (its correlation id)."""

    customer_id: UUID
    principal: str
    role: str
    route: str
    correlation_id: str
    read_at: datetime


class AccessLogPage(BaseModel):
    """A page of the customer's access log, oldest first, and the next page's cursor."""

    items: list[AccessEntry]
    next_cursor: str | None


@router.get(
    "/{customer_id}/access-log",
    response_model=AccessLogPage,
    responses=problems.documented(404),
)
def get_access_log(
    request: Request,
    customer_id: str,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Every read of the customer's personal data (360 view, timeline, export, tickets,
    deals...) by a role that sees it, oldest first: `{items, next_cursor}`. Reads are
    written within about a second (docs/api.md, "Access log")."""
    subject = aggregate_id(customer_id, "customer")
    items, last = read(request, access_log.page, subject, last_key(cursor, int) or 0, limit)
    if not items and cursor is None and not read(request, access_log.subject_known, subject):
        raise HTTPException(404, f"no customer with id {customer_id}")
    return {
        "items": items,
        "next_cursor": None if last is None else cursor_codec.encode(str(last)),
    }
