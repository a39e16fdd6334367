"""Bearer API keys and roles: 401 without a valid key, 403 for the wrong role."""

import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from infra.api_keys import Principal, Role, find_principal
from infra.postgres import with_connection

CACHE_SECONDS = 30.0
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key made with `crm keys create --role ROLE`",
}


class KeyCache:
    """Recently seen keys, so most requests do not query PostgreSQL; unknown keys are not cached."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Principal, float]] = {}

    def cached(self, key: str) -> Principal | None:
        """The principal of a key seen recently, without I/O."""
        hit = self._seen.get(key)
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def lookup(self, request: Request, key: str) -> Principal | None:
        """The principal of a key, from PostgreSQL (blocking: call it off the event loop)."""
        principal = with_connection(request.app.state.pool, lambda conn: find_principal(conn, key))
        if principal:
            self._seen[key] = (principal, time.monotonic() + CACHE_SECONDS)
        return principal


def requires(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits keys of the given roles (admin is always admitted).

    It reads the Authorization header itself (FastAPI's parameter machinery costs more than
    the rest of a command's request); the scheme is documented in OpenAPI by the app.
    """
    allowed = {*roles, Role.ADMIN}

    async def principal(request: Request) -> Principal:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise HTTPException(401, "an API key is required", {"WWW-Authenticate": "Bearer"})
        cache: KeyCache = request.app.state.keys
        found = cache.cached(key) or await run_in_threadpool(cache.lookup, request, key)
        if found is None:
            raise HTTPException(401, "invalid API key", {"WWW-Authenticate": "Bearer"})
        if found.role not in allowed:
            raise HTTPException(403, f"the {found.role} role may not do this")
        return found

    return principal


service_key = requires(Role.SERVICE)
"""The check behind `Service`, for code that calls it directly (commands)."""
Service = Annotated[Principal, Depends(service_key)]
Reader = Annotated[Principal, Depends(requires(Role.SERVICE, Role.ANALYST, Role.AUDITOR))]
Auditor = Annotated[Principal, Depends(requires(Role.SERVICE, Role.AUDITOR))]
Admin = Annotated[Principal, Depends(requires())]
"""Admin keys only: `requires()` names no role, and admin passes every check (settings)."""
