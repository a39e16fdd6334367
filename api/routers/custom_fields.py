"""Typed custom field definitions: declared here, checked on customer commands."""

from typing import Any

from fastapi import APIRouter, Request, Response

from api import problems
from api.command_routes import CommandRoute, add_command_routes, fixed
from api.commanding import read
from api.policing import PolicedRoute
from api.views.settings import CustomFields
from commands.custom_fields import DefineCustomField
from domain.custom_fields import SCHEMA_ID
from projections.settings import queries

router = APIRouter(
    route_class=PolicedRoute,
    prefix="/v1/custom-fields",
    tags=["custom fields"],
    responses=problems.documented(401, 403, 422, 503),
)


add_command_routes(
    router,
    CommandRoute(
        "PUT /{key}",
        DefineCustomField,
        fixed(SCHEMA_ID),
        "Define (or redefine) a custom field: text, number, date (YYYY-MM-DD) or choice."
        "\nCustomer commands then refuse a value of another type (422 naming the field).",
        path_fields=lambda path: {"key": path["key"]},
    ),
)


@router.get("", response_model=CustomFields)
def list_custom_fields(request: Request, response: Response) -> dict[str, Any]:
    """Every defined custom field: `{items: [{key, type, choices, label}]}` (ETag: version)."""
    schema: queries.CustomFields = read(request, queries.custom_fields)
    response.headers["ETag"] = f'"{schema.version}"'
    return {
        "items": [
            {"key": key, **definition.model_dump(mode="json")}
            for key, definition in sorted(schema.fields.items())
        ]
    }
