"""Customer commands and queries."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime

from api import problems
from api.command_routes import NEW, CommandRoute, add_command_routes, in_path
from api.commanding import aggregate_id, read
from api.page_cursors import last_key
from api.policing import PolicedRoute, sees_personal_data
from api.routers.segments import segment_named
from api.views.customers import CustomerPage, CustomerView, TimelinePage
from api.views.export import CustomerExport
from commands.base import StorableText
from commands.customers import (
    ChangeCustomer,
    EraseCustomer,
    GiveFeedback,
    LogInteraction,
    RecordPurchase,
    RegisterCustomer,
)
from commands.tickets import OpenComplaint
from infra import page_cursor as cursor_codec
from infra import timeline
from infra.audit import tree_store
from infra.data_keys import keyring
from projections import customer_export
from projections.customer_360 import queries
from projections.customer_360.overview import customer_overview

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/customers",
    tags=["customers"],
    responses=problems.documented(401, 403, 422, 503),
)

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200, description="A page's `next_cursor`")]


CUSTOMER = in_path("customer_id", "customer")


def _customer_id(customer_id: str) -> UUID:
    return aggregate_id(customer_id, "customer")


add_command_routes(
    router,
    CommandRoute("POST", RegisterCustomer, NEW, "Register a customer.", located=router.prefix),
    CommandRoute(
        "PATCH /{customer_id}",
        ChangeCustomer,
        CUSTOMER,
        "Change profile fields, tags, custom fields or consent.",
    ),
    CommandRoute(
        "POST /{customer_id}/interactions",
        LogInteraction,
        CUSTOMER,
        "Log a contact (call, email, meeting, chat, sms, social).",
    ),
    CommandRoute("POST /{customer_id}/purchases", RecordPurchase, CUSTOMER, "Record a purchase."),
    CommandRoute(
        "POST /{customer_id}/feedback", GiveFeedback, CUSTOMER, "Record a rating (1-5) and comment."
    ),
    CommandRoute(
        "POST /{customer_id}/erasure",
        EraseCustomer,
        CUSTOMER,
        "Erase the customer (GDPR art. 17), admins only: records `Customer.Erased` (who, when,"
        " the `reason` given, which must name no one) and destroys the customer's data keys"
        " in the same transaction. Their personal data then reads as blank everywhere, their"
        " external reference is free again, and every later command on them, their tickets"
        " or deals is a 410 `/problems/customer-erased` (erasing again too; a retry with the"
        " same Idempotency-Key gets the first answer).",
        admin=True,
    ),
    CommandRoute(
        "POST /{customer_id}/complaints",
        OpenComplaint,
        NEW,
        "Open a ticket from a complaint (or a service request, or a warranty claim).",
        located="/v1/tickets",
        path_fields=lambda path: {"customer_id": _customer_id(path["customer_id"])},
    ),
)


@router.get(
    "",
    response_model=CustomerPage,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def list_customers(
    request: Request,
    q: Annotated[StorableText | None, Query(max_length=200)] = None,
    tag: Annotated[StorableText | None, Query(max_length=64)] = None,
    segment: Annotated[StorableText | None, Query(max_length=500)] = None,
    external_ref: Annotated[StorableText | None, Query(max_length=100)] = None,
    email: Annotated[StorableText | None, Query(max_length=254)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Search and list customers, a page at a time: `{items, next_cursor}`. `q` is a piece of
    the external reference or of a tag, and for roles that see personal data of the name or
    email too (`%` and `_` are plain characters); `email` finds the customer with exactly that
    email (case and outer spaces aside), through its blind index, for roles that see personal
    data; `segment` is a saved segment's name (404 if none has it)."""
    criteria = segment_named(request, segment).criteria if segment is not None else None
    try:
        page = read(
            request,
            queries.search,
            q=q,
            tag=tag,
            external_ref=external_ref,
            email_digest=keyring().master.blind_index(email) if email else None,
            criteria=criteria,
            cursor=cursor,
            limit=limit,
            personal=sees_personal_data(request),
        )
    except ValueError as error:
        raise RequestValidationError(
            [{"loc": ("query", "cursor"), "msg": str(error), "type": "value_error"}]
        ) from None
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/{customer_id}",
    response_model=CustomerView,
    response_model_exclude_unset=True,
    responses=problems.documented(404),
)
def get_customer(
    request: Request,
    response: Response,
    customer_id: str,
    as_of: Annotated[AwareDatetime | None, Query(description="Business time")] = None,
    as_of_recorded: Annotated[AwareDatetime | None, Query(description="Recording time")] = None,
) -> dict[str, Any]:
    """The customer 360 view (ETag: its version); `as_of` answers as it stood at a past
    business time, `as_of_recorded` with only what had been recorded by then (both: both).
    Churn risk and lifetime value are as of `as_of` (or now), and null with `as_of_recorded`:
    the read models they come from know business time only."""
    churn = request.app.state.churn  # fits kept, computed off the request path
    found = read(
        request, customer_overview, _customer_id(customer_id), churn, as_of, as_of_recorded
    )
    if found is None:
        raise HTTPException(404, f"no customer with id {customer_id}")
    response.headers["ETag"] = f'"{found["version"]}"'
    return found


@router.get(
    "/{customer_id}/timeline",
    response_model=TimelinePage,
    response_model_exclude_unset=True,  # an item's `proof` only when asked for
    responses=problems.documented(404),
)
def get_timeline(
    request: Request,
    customer_id: str,
    cursor: Cursor = None,
    limit: Limit = 100,
    proofs: Annotated[bool, Query(description="each item with its inclusion proof")] = False,
) -> dict[str, Any]:
    """Every event of the customer, oldest first, with who, why and when: `{items, next_cursor}`.
    With `proofs=true`, each item's `proof` is its inclusion proof against the latest signed
    tree head (null while the event is not in that tree yet)."""
    cid = _customer_id(customer_id)
    after = last_key(cursor, int) or 0
    events = read(request, timeline.customer_events, cid, after, limit + 1)
    if not events and after == 0:
        raise HTTPException(404, f"no customer with id {customer_id}")
    more = len(events) > limit
    events = events[:limit]
    items = [timeline.item(e) for e in events]
    if proofs:
        found = read(request, tree_store.latest_inclusion_proofs, [e.position for e in events])
        for item in items:
            proof = found.get(item["position"])
            item["proof"] = proof.as_json() if proof else None
    return {
        "items": items,
        "next_cursor": cursor_codec.encode(str(events[-1].position)) if more else None,
    }


@router.get(
    "/{customer_id}/export",
    response_model=CustomerExport,
    response_model_exclude_unset=True,
    responses=problems.documented(404, 410),
)
def export_customer(request: Request, customer_id: str) -> Any:
    """Everything held about the customer, for their rights of access and portability (GDPR
    art. 15 and 20): profile, consent, every event of theirs and of their tickets, deals and
    converted leads (decrypted, oldest first), and each read model's rows about them. An
    erased customer is a 410 `/problems/customer-erased` with `erased_at` and `reason`."""
    found = read(request, customer_export.export, _customer_id(customer_id))
    if found is None:
        raise HTTPException(404, f"no customer with id {customer_id}")
    if isinstance(found, customer_export.Erasure):
        return problems.problem(
            410,
            f"customer {customer_id} is erased",
            type_="/problems/customer-erased",
            rule="customer-erased",
            erased_at=found.erased_at.isoformat(),
            reason=found.reason,
        )
    return found
