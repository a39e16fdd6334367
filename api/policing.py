"""Enforces the access policy (`api.access_policy`) on every route, in one place.

Every router is made with `route_class=PolicedRoute`. Before the endpoint runs, its route's
rule admits the caller: no valid key is a 401, a role the rule does not list (or a route
with no rule) a 403. After it, the answer is shaped for the caller's role: a role that sees
only some fields gets only those; a role that sees an answer with personal data whole gets
it with `Cache-Control: no-store`, and the read is handed to the access log (written off the
request path, `infra.access_log`). Endpoints get the admitted caller from `Caller`.
"""

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import Depends, HTTPException, Request, Response
from fastapi.routing import APIRoute

from api.access_policy import Rule, View, rule_for
from api.auth import requires
from infra.access_log import AccessLog, AccessRecord
from infra.api_keys import Principal, Role

_authenticated = requires(*Role)
"""Admits any valid key: the policy decides what its role may do."""
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PolicedRoute(APIRoute):
    """A route whose rule in the access policy admits callers and shapes answers."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()
        rules = {method: rule_for(method, self.path) for method in self.methods or ()}
        path = self.path

        async def policed(request: Request) -> Response:
            rule = rules.get(request.method)
            if rule is not None and rule.public:
                return await handle(request)
            principal = await _authenticated(request)
            if rule is None or principal.role not in rule.roles:
                raise HTTPException(403, f"the {principal.role} role may not do this")
            view = rule.roles[principal.role]
            if not view.whole and (asked := rule.personal_parameters & request.query_params.keys()):
                raise HTTPException(
                    403, f"the {principal.role} role may not search by {min(asked)}"
                )
            request.state.principal = principal
            request.state.view = view
            response = await handle(request)
            return delivered(rule, principal, request, response, f"{request.method} {path}")

        return policed


def caller(request: Request) -> Principal:
    """The caller the route's rule admitted (a route that is not policed admits no one)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise HTTPException(403, "this route has no access rule")
    return principal


Caller = Annotated[Principal, Depends(caller)]
"""The admitted caller, for endpoints that need to know who calls."""


def sees_personal_data(request: Request) -> bool:
    """Whether the admitted caller sees this route's answer whole, personal data included."""
    view: View | None = getattr(request.state, "view", None)
    return view is not None and view.whole


def delivered(
    rule: Rule, principal: Principal, request: Request, response: Response, route: str
) -> Response:
    """`response` as the rule lets `principal` have it."""
    if not 200 <= response.status_code < 300:
        return response
    view = rule.roles[principal.role]
    if not view.whole:
        shown = orjson.dumps(view.shown(orjson.loads(response.body)))
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        return Response(shown, response.status_code, headers, response.media_type)
    if rule.carries_personal_data:
        response.headers["Cache-Control"] = "no-store"
    if rule.subject is not None:
        log: AccessLog = request.app.state.access_log
        answer = orjson.loads(response.body) if rule.subject.in_answer else None
        at = datetime.now(UTC)
        for subject in rule.subject.ids(request.path_params, answer):
            log.record(
                AccessRecord(
                    subject_id=UUID(subject),
                    principal=principal.name,
                    role=principal.role,
                    route=route,
                    correlation_id=request.state.correlation_id,
                    read_at=at,
                )
            )
    return response
