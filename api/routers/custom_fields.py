"""Typed custom field definitions: declared here, checked on customer commands."""

from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api import problems
from api.auth import Reader
from api.commanding import command_route, read, run
from api.views.settings import CustomFields
from commands.context import Target
from commands.custom_fields import DefineCustomField
from domain.custom_fields import SCHEMA_ID
from projections.settings import queries

router = APIRouter(
    prefix="/v1/custom-fields",
    tags=["custom fields"],
    responses=problems.documented(401, 403, 422, 503),
)
command = partial(command_route, router)


@command("PUT", "/{key}", 200, DefineCustomField, creates=True)
async def define_custom_field(request: Request, key: str) -> JSONResponse:
    """Define (or redefine) a custom field: text, number, date (YYYY-MM-DD) or choice.
    Customer commands then refuse a value of another type (422 naming the field)."""
    return await run(
        request,
        DefineCustomField,
        lambda: Target(SCHEMA_ID, creates=True),
        path_fields=lambda: {"key": key},
    )


@router.get("", response_model=CustomFields)
def list_custom_fields(request: Request, response: Response, _: Reader) -> dict[str, Any]:
    """Every defined custom field: `{items: [{key, type, choices, label}]}` (ETag: version)."""
    schema: queries.CustomFields = read(request, queries.custom_fields)
    response.headers["ETag"] = f'"{schema.version}"'
    return {
        "items": [
            {"key": key, **definition.model_dump(mode="json")}
            for key, definition in sorted(schema.fields.items())
        ]
    }
