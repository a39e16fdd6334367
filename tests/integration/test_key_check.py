"""The key check of an API process on a real PostgreSQL: one read per key however many
requests wait for it, and a key revoked by another process refused within the cache seconds
(and one request, admitted while the key is read again)."""

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from fastapi import HTTPException
from psycopg_pool import ConnectionPool
from starlette.requests import Request

import api.auth
from api.auth import KeyCheck
from api.bootstrap import prepare_database
from infra.api_keys import Role, create_key, revoke_key
from infra.postgres import open_pool
from infra.settings import Settings

CACHE_SECONDS = 0.2


@pytest.fixture(scope="module")
def url(new_database: Callable[[], str]) -> str:
    url = new_database()
    prepare_database(Settings(database_url=url, _env_file=None))
    return url


@pytest.fixture(scope="module")
def pool(url: str) -> Iterator[ConnectionPool]:
    pool = open_pool(url, 4, "test")
    yield pool
    pool.close()


def check_of(pool: ConnectionPool) -> tuple[KeyCheck, Any]:
    settings = Settings(key_cache_seconds=CACHE_SECONDS, _env_file=None)
    check = KeyCheck(settings)
    return check, SimpleNamespace(state=SimpleNamespace(pool=pool, keys=check))


def request(app: Any, key: str) -> Request:
    headers = [(b"authorization", f"Bearer {key}".encode())]
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "app": app}
    return Request(scope | {"client": ("192.0.2.1", 1)})


def new_key(url: str) -> tuple[str, Any]:
    with psycopg.connect(url) as conn:
        return create_key(conn, Role.SERVICE)


def test_requests_waiting_for_the_same_key_read_it_once(url, pool, monkeypatch) -> None:
    reads: list[str] = []

    def counted(conn: Any, key: str) -> Any:
        reads.append(key)
        return find_key(conn, key)

    find_key = api.auth.find_key
    monkeypatch.setattr(api.auth, "find_key", counted)
    check, app = check_of(pool)
    key, stored = new_key(url)

    async def at_once() -> list[Any]:
        return await asyncio.gather(*(check.authenticate(request(app, key)) for _ in range(20)))

    assert {found.id for found in asyncio.run(at_once())} == {stored.id}
    assert reads == [key]


def test_a_key_revoked_elsewhere_is_refused_within_the_cache_seconds(url, pool) -> None:
    check, app = check_of(pool)
    key, stored = new_key(url)

    async def requests() -> None:
        await check.authenticate(request(app, key))
        with psycopg.connect(url) as conn:
            revoke_key(conn, stored.id)
        assert (await check.authenticate(request(app, key))).id == stored.id  # still cached
        await asyncio.sleep(CACHE_SECONDS)
        # The first request past the cache seconds is admitted as the key was last checked,
        # while the key is read again beside it; once read, the key is refused
        assert (await check.authenticate(request(app, key))).id == stored.id
        deadline = time.monotonic() + 5
        while check.cache.last_known(key, datetime.now(UTC)) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        with pytest.raises(HTTPException) as refused:
            await check.authenticate(request(app, key))
        assert (refused.value.status_code, refused.value.detail) == (401, "the API key was revoked")

    asyncio.run(requests())
