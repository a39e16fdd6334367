"""What checking a request's API key costs, in process, before and after keys had a lifecycle.

  1. The cached path, which almost every request takes: before, the header, a dict lookup and
     the role (the check as it was, copied below); now also the key's rate limit (`limits`,
     a moving window in memory; the default 10000/second, and none). Paced at --rate checks a
     second, about what one API process answers on this machine, so the window holds what it
     holds in service.
  2. A cache miss (once per key, API process and CRM_KEY_CACHE_SECONDS): before, one SELECT;
     now the SELECT with the last-use UPDATE (written at most once a minute).
Rounds alternate old and new. Prints microseconds per check (CPU of the whole process for the
cached path, wall time for a miss); asserts nothing.

Run:  python -m bench.key_check [--rounds 3] [--seconds 3] [--rate 3000] [--database-url URL]
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import psycopg
from fastapi import HTTPException
from rich.console import Console
from rich.table import Table
from starlette.requests import Request

from api.auth import KeyCheck, requires
from api.bootstrap import prepare_database
from bench.commands import bench_database
from infra.api_keys import Principal, Role, create_key, find_key, hash_key
from infra.postgres import open_pool
from infra.settings import Settings

console = Console()
OLD_LOOKUP = "SELECT principal, role FROM crm_api_keys WHERE key_hash = %s AND revoked_at IS NULL"
"""The query of a cache miss before keys had a lifecycle."""


def old_check(seen: dict[str, tuple[Principal, float]]) -> Callable[[Request], Awaitable[Any]]:
    """The cached path of the key check before keys had a lifecycle (api/auth.py then)."""
    allowed = {*Role}

    async def principal(request: Request) -> Principal:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise HTTPException(401, "an API key is required")
        hit = seen.get(key)
        found = hit[0] if hit and hit[1] > time.monotonic() else None
        if found is None:
            raise HTTPException(401, "invalid API key")
        if found.role not in allowed:
            raise HTTPException(403, "no")
        return found

    return principal


def request_with(app: Any, key: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/v1/customers",
            "headers": [(b"authorization", f"Bearer {key}".encode())],
            "app": app,
            "client": ("127.0.0.1", 50000),
        }
    )


async def paced(check: Callable[[Request], Awaitable[Any]], app: Any, key: str, args: Any) -> float:
    """CPU microseconds of this process (its threads included: `limits` expires entries in
    timer threads) per check, making `args.rate` checks a second for `args.seconds`."""
    started = time.process_time()
    for _ in range(args.seconds):
        second = time.monotonic() + 1
        for _ in range(args.rate):
            await check(request_with(app, key))
        await asyncio.sleep(max(0.0, second - time.monotonic()))
    return (time.process_time() - started) / (args.seconds * args.rate) * 1e6


def cached_paths(url: str, args: Any, rate_limit: str) -> tuple[list[float], list[float]]:
    """Per round: µs per cached check before and after, with this service rate limit."""
    settings = Settings(database_url=url, service_rate_limit=rate_limit, _env_file=None)
    pool = open_pool(url, 2, "bench")
    with psycopg.connect(url) as conn:
        key, stored = create_key(conn, Role.SERVICE)
    app = SimpleNamespace(state=SimpleNamespace(pool=pool, keys=KeyCheck(settings)))
    new = requires(*Role)
    old = old_check({key: (stored.principal, time.monotonic() + 3600)})
    before, after = [], []
    try:
        asyncio.run(new(request_with(app, key)))  # the first check reads PostgreSQL
        for _ in range(args.rounds):
            before.append(asyncio.run(paced(old, app, key, args)))
            after.append(asyncio.run(paced(new, app, key, args)))
    finally:
        pool.close()
    return before, after


def misses(url: str, args: Any) -> tuple[list[float], list[float]]:
    """Per round: µs per cache-miss lookup before (SELECT) and after (the last-use CTE)."""
    before, after = [], []
    with psycopg.connect(url, autocommit=True) as conn:
        key, _ = create_key(conn, Role.SERVICE, "misses")

        def timed(lookup: Callable[[], object]) -> float:
            started = time.perf_counter()
            for _ in range(args.lookups):
                lookup()
            return (time.perf_counter() - started) / args.lookups * 1e6

        for _ in range(args.rounds):
            before.append(timed(lambda: conn.execute(OLD_LOOKUP, (hash_key(key),)).fetchone()))
            after.append(timed(lambda: find_key(conn, key)))
    return before, after


def report(rows: list[tuple[str, list[float], list[float]]]) -> None:
    table = Table("path", "before µs (per round)", "after µs (per round)", "median change")
    for name, before, after in rows:
        change = statistics.median(after) - statistics.median(before)
        table.add_row(
            name,
            ", ".join(f"{v:.1f}" for v in before),
            ", ".join(f"{v:.1f}" for v in after),
            f"{change:+.1f} µs",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3, help="paced seconds per round")
    parser.add_argument("--rate", type=int, default=3000, help="cached checks a second")
    parser.add_argument("--lookups", type=int, default=2000, help="cache misses per round")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with bench_database(args.database_url) as url:
        prepare_database(Settings(database_url=url, _env_file=None))
        report(
            [
                ("cached key (every request)", *cached_paths(url, args, "10000/second")),
                ("cached key, no rate limit", *cached_paths(url, args, "")),
                ("cache miss (PostgreSQL)", *misses(url, args)),
            ]
        )


if __name__ == "__main__":
    main()
