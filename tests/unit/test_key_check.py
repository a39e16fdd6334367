"""The pure parts of checking keys: why a stored key is refused, the key cache's bound, rate
limits counted in memory, and 429 documented wherever keys are checked."""

import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from api.auth import KeyCache
from api.problems import documented
from api.rate_limits import RateLimit
from infra.api_keys import ApiKey, Role

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def key(**changes: object) -> ApiKey:
    fields: dict = {
        "id": uuid4(),
        "name": "shop",
        "role": Role.SERVICE,
        "created_at": NOW - timedelta(days=1),
        "expires_at": None,
        "last_used_at": None,
        "revoked_at": None,
    }
    return ApiKey(**(fields | changes))


def test_a_key_is_refused_once_revoked_or_from_its_expiry_on() -> None:
    assert key().refusal(NOW) is None
    assert key(expires_at=NOW + timedelta(seconds=1)).refusal(NOW) is None
    assert key(expires_at=NOW).refusal(NOW) == "expired"
    assert key(revoked_at=NOW, expires_at=NOW).refusal(NOW) == "revoked"


def test_the_principal_is_the_keys_name_and_role() -> None:
    assert (key().principal.name, key().principal.role) == ("shop", Role.SERVICE)


def test_a_cached_key_is_trusted_for_the_cache_seconds_then_asked_again() -> None:
    cache = KeyCache(0.05)
    cache.keep("crm_a", found := key(), NOW)
    assert cache.cached("crm_a") is found
    time.sleep(0.06)
    assert cache.cached("crm_a") is None


def test_a_key_is_not_trusted_past_its_expiry_nor_after_eviction() -> None:
    cache = KeyCache(60)
    cache.keep("crm_expiring", key(expires_at=NOW), NOW)
    assert cache.cached("crm_expiring") is None
    cache.keep("crm_a", revoked := key(), NOW)
    cache.keep("crm_b", kept := key(), NOW)
    cache.evict(revoked.id)
    assert (cache.cached("crm_a"), cache.cached("crm_b")) == (None, kept)


def test_no_cache_seconds_means_every_request_asks() -> None:
    cache = KeyCache(0)
    cache.keep("crm_a", key(), NOW)
    assert cache.cached("crm_a") is None


def test_a_rate_limit_refuses_past_its_count_and_says_when_to_come_back() -> None:
    limit = RateLimit("2/minute;100/hour")
    assert [limit.retry_after("a"), limit.retry_after("a")] == [None, None]
    wait = limit.retry_after("a")
    assert wait is not None and 1 <= wait <= 60
    assert limit.retry_after("b") is None  # counted per identifier


def test_an_empty_rate_limit_never_refuses() -> None:
    limit = RateLimit("")
    assert {limit.retry_after("a") for _ in range(1000)} == {None}


def test_every_route_that_checks_keys_documents_429() -> None:
    assert 429 in documented(401, 403)
    assert 429 not in documented(404)
