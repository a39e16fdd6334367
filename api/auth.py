"""Bearer API keys and roles: 401 without a valid key, 403 for the wrong role, 429 past the
key's rate limit (or, for bad keys, past the client address's failure limit).

Every API process keeps its own key cache and counters, in memory: a key revoked by another
process (the CLI, another API worker) stops working here within `CRM_KEY_CACHE_SECONDS`, at
once in the process that revoked it; rate limits hold per process.
"""

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, NoReturn

import structlog
from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool

from api.rate_limits import RateLimit
from infra.api_keys import ApiKey, Principal, Role, find_key
from infra.metrics import AUTH_FAILURES, RATE_LIMITED
from infra.postgres import with_connection
from infra.settings import Settings

log = structlog.get_logger()

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key made with `crm keys create --role ROLE` or `POST /v1/keys`",
}
BEARER = {"WWW-Authenticate": "Bearer"}
REFUSED = {
    "unknown": "invalid API key",
    "expired": "the API key has expired",
    "revoked": "the API key was revoked",
}


class KeyCache:
    """Valid keys checked within the last `seconds` (and not past their expiry), so most
    requests do not query PostgreSQL; past that, a key's next request is admitted as last
    checked while the key is read again beside it. Read and written on the event loop only."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._seen: dict[str, tuple[ApiKey, float]] = {}

    def cached(self, key: str) -> ApiKey | None:
        """The stored key, if it was checked recently, without I/O."""
        hit = self._seen.get(key)
        return hit[0] if hit and hit[1] > time.monotonic() else None

    def last_known(self, key: str, now: datetime) -> ApiKey | None:
        """The stored key as last checked, however long ago, unless it expired since."""
        hit = self._seen.get(key)
        if hit is None or (hit[0].expires_at is not None and hit[0].expires_at <= now):
            return None
        return hit[0]

    def keep(self, key: str, found: ApiKey, now: datetime) -> None:
        """Trusts `found` for `seconds`, or until it expires if that comes first."""
        trusted = self._seconds
        if found.expires_at is not None:
            trusted = min(trusted, (found.expires_at - now).total_seconds())
        if trusted > 0:
            self._seen[key] = (found, time.monotonic() + trusted)

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)

    def evict(self, key_id: object) -> None:
        """Forgets a key (it was revoked)."""
        for key in [key for key, (found, _) in self._seen.items() if found.id == key_id]:
            del self._seen[key]


class KeyCheck:
    """What checking keys keeps in an API process: the key cache, each role's rate limit (per
    key) and the limit of bad keys per client address."""

    def __init__(self, settings: Settings) -> None:
        self.cache = KeyCache(settings.key_cache_seconds)
        self._limits = {role: RateLimit(getattr(settings, f"{role}_rate_limit")) for role in Role}
        self._failures = RateLimit(settings.auth_failure_limit)
        self._lookups: dict[str, asyncio.Future[ApiKey | None]] = {}

    async def authenticate(self, request: Request) -> ApiKey:
        """The request's valid key, counted against its role's rate limit; else 401 or 429."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            AUTH_FAILURES.labels("missing").inc()
            raise HTTPException(401, "an API key is required", BEARER)
        found = self.cache.cached(key)
        if found is None:
            found = await self._checked(request, key)
        wait = self._limits[found.role].retry_after(found.name)
        if wait is not None:
            RATE_LIMITED.labels(found.role.value).inc()
            raise HTTPException(
                429,
                f"this key's rate limit is reached; retry after {wait} s",
                {"Retry-After": str(wait)},
            )
        return found

    async def _checked(self, request: Request, key: str) -> ApiKey:
        """The key: as last checked if it was valid then (checked again in the background, so
        that a request never waits on PostgreSQL for a key it knows, even while PostgreSQL
        is away), else read from PostgreSQL and kept if valid, else refused."""
        now = datetime.now(UTC)
        known = self.cache.last_known(key, now)
        if known is not None:
            refresh = asyncio.ensure_future(self._lookup(request.app.state.pool, key))
            refresh.add_done_callback(lambda done: self._recheck(key, done, now))
            return known
        found = await self._lookup(request.app.state.pool, key)
        refusal = "unknown" if found is None else found.refusal(now)
        if found is None or refusal:
            self._refuse(request, refusal or "unknown", found)
        self.cache.keep(key, found, now)
        return found

    def _recheck(self, key: str, done: "asyncio.Future[ApiKey | None]", now: datetime) -> None:
        """Keeps a key checked in the background again, or forgets it if it is no longer
        valid (its next request is refused); PostgreSQL away: nothing changes."""
        if done.cancelled() or done.exception() is not None:
            return
        found = done.result()
        if found is None or found.refusal(now):
            self.cache.forget(key)
        else:
            self.cache.keep(key, found, now)

    async def _lookup(self, pool: ConnectionPool, key: str) -> ApiKey | None:
        """The stored key, read once for all the requests that wait for it at the same time
        (a key's cache entry runs out for every request in flight at once)."""
        pending = self._lookups.get(key)
        if pending is None:
            pending = asyncio.ensure_future(
                run_in_threadpool(with_connection, pool, lambda conn: find_key(conn, key))
            )
            self._lookups[key] = pending
            pending.add_done_callback(lambda _: self._lookups.pop(key, None))
        return await asyncio.shield(pending)  # a request cancelled does not cancel the others'

    def _refuse(self, request: Request, reason: str, found: ApiKey | None) -> NoReturn:
        """401 for a bad key, logged (never the key) and counted; 429 without a log line
        once its client address is past the failure limit."""
        client = request.client.host if request.client else ""
        wait = self._failures.retry_after(client)
        if wait is not None:
            AUTH_FAILURES.labels("throttled").inc()
            detail = f"too many bad API keys from this address; retry after {wait} s"
            raise HTTPException(429, detail, {"Retry-After": str(wait)})
        AUTH_FAILURES.labels(reason).inc()
        log.warning(
            "authentication failed",
            reason=reason,
            client=client,
            key_name=found.name if found else None,
            method=request.method,
            path=request.url.path,
        )
        raise HTTPException(401, REFUSED[reason], BEARER)


def requires(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits keys of the given roles (admin is always admitted).

    It reads the Authorization header itself (FastAPI's parameter machinery costs more than
    the rest of a command's request); the scheme is documented in OpenAPI by the app.
    """
    allowed = {*roles, Role.ADMIN}

    async def principal(request: Request) -> Principal:
        check: KeyCheck = request.app.state.keys
        found = await check.authenticate(request)
        if found.role not in allowed:
            raise HTTPException(403, f"the {found.role} role may not do this")
        return found.principal

    return principal
