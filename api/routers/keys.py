"""API keys over HTTP (admin only): list, create, revoke."""

from typing import Any
from uuid import UUID

import structlog
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api import problems
from api.auth import KeyCheck
from api.commanding import read
from api.policing import Caller, PolicedRoute
from api.views.keys import CreatedKey, Keys, KeyView, NewKey
from infra.api_keys import ApiKey, DuplicateKeyName, create_key, list_keys, revoke_key

log = structlog.get_logger()

NEW_KEY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    k: v
                    for k, v in NewKey.model_json_schema(
                        ref_template="#/components/schemas/{model}"
                    ).items()
                    if k != "$defs"  # Role: a schema of its own, from the answers
                }
            }
        },
    }
}
"""POST's body in OpenAPI: the route parses it itself (`_new_key`)."""

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/keys",
    tags=["keys"],
    responses=problems.documented(401, 403, 422, 503),
)


@router.get("", response_model=Keys)
def list_api_keys(request: Request) -> dict[str, Any]:
    """Every key, revoked and expired ones too: name, role, created, last used, expiry; never
    the key itself."""
    return {"items": [KeyView.of(key) for key in read(request, list_keys)]}


@router.post(
    "",
    status_code=201,
    response_model=CreatedKey,
    responses={
        409: {
            "description": "Another key (revoked ones too) has this name",
            "content": {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    },
    openapi_extra=NEW_KEY_BODY,
)
async def create_api_key(request: Request, admin: Caller) -> Any:
    """Create a key; the answer carries it (`key`) this once."""
    body = await _new_key(request)
    try:
        key, created = await run_in_threadpool(
            read, request, create_key, body.role, body.name, body.expires_in_days
        )
    except DuplicateKeyName:
        return problems.problem(
            409,
            "another key has this name",
            type_="/problems/key-name-taken",
            errors=[{"field": "name", "message": "another key has this name"}],
        )
    log.info("api key created", key_id=str(created.id), key_name=created.name, by=admin.name)
    return CreatedKey(key=key, **KeyView.of(created).model_dump())


async def _new_key(request: Request) -> NewKey:
    """The body, parsed as command bodies are: anything that is not a valid `NewKey` (bytes
    that are not JSON included) is a 422 naming the field, or `body`."""
    try:
        return NewKey.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


@router.delete("/{key_id}", status_code=204, responses=problems.documented(404))
async def revoke_api_key(request: Request, key_id: str, admin: Caller) -> Response:
    """Revoke a key: it stops working at once in this API process, within
    CRM_KEY_CACHE_SECONDS in the others. Revoking a revoked key changes nothing."""
    parsed = _uuid(key_id)
    revoked = None if parsed is None else await run_in_threadpool(_revoke, request, parsed)
    if revoked is None:
        raise HTTPException(404, "no such key")
    check: KeyCheck = request.app.state.keys
    check.cache.evict(revoked.id)
    log.info("api key revoked", key_id=key_id, key_name=revoked.name, by=admin.name)
    return Response(status_code=204)


def _revoke(request: Request, key_id: UUID) -> ApiKey | None:
    return read(request, revoke_key, key_id)


def _uuid(text: str) -> UUID | None:
    """A key id, or None: what is not a UUID names no key (404, as unknown ids elsewhere)."""
    try:
        return UUID(text)
    except ValueError:
        return None
