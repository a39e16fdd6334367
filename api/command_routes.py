"""Command routes, each declared once: its name, method, path, command, target, what it does,
and where a created aggregate is found. The success status is the command's own
(`Command.success_status`), in the OpenAPI document and in the answer alike.

Routers list their command routes as `CommandRoute`s and `add_command_routes` registers them
(the endpoint is `api.commanding.run`, given the route's path parameters).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from inspect import Parameter, Signature
from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import problems
from api.access_policy import ADMIN_ONLY, rule_for
from api.commanding import CommandAccepted, aggregate_id, openapi, run
from commands.base import Command
from commands.context import Target
from commands.registry import COMMAND_HANDLERS
from domain.aggregate import Aggregate, CustomerOwned
from domain.customer import Customer
from domain.lead import Lead

Path = Mapping[str, str]
"""A request's path parameters, by name."""
_PARAMETER = re.compile(r"{(\w+)}")
_CAPITAL = re.compile("([A-Z])")


@dataclass(frozen=True)
class Targeting:
    """How a route finds the aggregate its command acts on; `creates`: the command may
    create it (then a missing one is no reason for 404)."""

    find: Callable[[Path, Command], Target]
    creates: bool


NEW = Targeting(lambda _path, _command: Target(uuid4(), creates=True), creates=True)
"""A new aggregate, under a fresh id."""


def in_path(parameter: str, kind: str) -> Targeting:
    """The existing aggregate the path names (404 naming the `kind` if not a UUID)."""
    return Targeting(lambda path, _: Target(aggregate_id(path[parameter], kind)), creates=False)


def fixed(aggregate_id: UUID) -> Targeting:
    """A configuration with a fixed id: created by its first command, changed by the next."""
    return Targeting(lambda _path, _command: Target(aggregate_id, creates=True), creates=True)


def of_command(find: Callable[[Any], UUID]) -> Targeting:
    """The aggregate the (validated) command names, created by its first command."""
    return Targeting(lambda _path, command: Target(find(command), creates=True), creates=True)


@dataclass(frozen=True)
class CommandRoute:
    """One command's HTTP route: `"POST /{customer_id}/purchases"`, under its router's prefix."""

    route: str
    command: type[Command]
    target: Targeting
    doc: str
    located: str | None = None
    """Where the aggregate a 201 answer created is found: `Location: {located}/{id}`."""
    path_fields: Callable[[Path], dict[str, Any]] | None = None
    """Fields of the command taken from the path (over the body's), once the key is checked."""
    admin: bool = False
    """Admin keys only: the access policy must say so too (checked as the route is added)."""
    name: str = ""
    """The endpoint's name, from which OpenAPI derives the operation's id and summary (by
    default the command's name in snake case: `record_purchase`)."""

    @property
    def method(self) -> str:
        return self.route.partition(" ")[0]

    @property
    def path(self) -> str:
        """The path under the router's prefix ("" for the prefix itself: `"POST"`)."""
        return self.route.partition(" ")[2]

    @property
    def endpoint_name(self) -> str:
        return self.name or _CAPITAL.sub(r"_\1", self.command.__name__).lower().lstrip("_")


def add_command_routes(router: APIRouter, *routes: CommandRoute) -> None:
    """Registers the routes on `router`: success status, answer model, body, headers and
    errors documented (a command that may create its aggregate answers 404 only for another
    aggregate it requires; one on what a customer owns, 410 once they are erased)."""
    for route in routes:
        if route.admin and rule_for(route.method, router.prefix + route.path) is not ADMIN_ONLY:
            raise ValueError(f"{route.route} is for admins, but not in the access policy")
        model = route.command
        not_found = not route.target.creates or model.required is not Command.required
        erasable = _of_a_customer(COMMAND_HANDLERS[model].aggregate)
        router.add_api_route(
            route.path,
            _endpoint(route),
            methods=[route.method],
            status_code=model.success_status,
            response_model=CommandAccepted,
            openapi_extra=openapi(model),
            responses=problems.documented(
                409, 412, *((404,) if not_found else ()), *((410,) if erasable else ())
            ),
        )


def _of_a_customer(aggregate: type[Aggregate]) -> bool:
    """Whether an aggregate is a customer or something a customer owns (or may own)."""
    return issubclass(aggregate, Customer | Lead | CustomerOwned)


def _endpoint(route: CommandRoute) -> Callable[..., Any]:
    """The route's endpoint, with the signature FastAPI reads: the request, the path's
    parameters as text."""
    names = _PARAMETER.findall(route.path)

    async def endpoint(request: Request, **given: Any) -> JSONResponse:
        path = {name: given[name] for name in names}
        fields = route.path_fields
        return await run(
            request,
            route.command,
            lambda command: route.target.find(path, command),
            located=route.located,
            path_fields=(lambda: fields(path)) if fields else None,
        )

    parameters = [Parameter("request", Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
    parameters += [Parameter(name, Parameter.KEYWORD_ONLY, annotation=str) for name in names]
    endpoint.__signature__ = Signature(parameters, return_annotation=JSONResponse)  # type: ignore[attr-defined]
    endpoint.__name__ = endpoint.__qualname__ = route.endpoint_name
    endpoint.__doc__ = route.doc
    return endpoint
