"""Deal commands and queries (CONTRACT.md)."""

from functools import partial

from fastapi import APIRouter

from api import problems
from api.commanding import command_route

router = APIRouter(
    prefix="/v1/deals", tags=["deals"], responses=problems.documented(401, 403, 422, 503)
)
command = partial(command_route, router)
