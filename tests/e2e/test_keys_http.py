"""API keys with a lifecycle against a real `crm serve`: created, listed (never the secret),
expired and revoked over HTTP or by another process; per-key rate limits; bad keys slowed per
client address (each test's its own, through X-Forwarded-For, which uvicorn takes from
127.0.0.1).
`crm keys` itself is tested in tests/integration/test_keys_cli.py."""

import re
import time
from collections.abc import Callable, Iterator
from uuid import UUID

import httpx
import psycopg
import pytest

from infra.api_keys import revoke_key
from tests.e2e.conftest import Service, crm_env, free_port, start_service
from tests.e2e.test_customers_http import PROBLEM
from tests.waiting import wait_for

CACHE_SECONDS = 1
AUDITOR_LIMIT = 5
"""Requests an auditor key may make per minute on the `locked` service."""
FAILURE_LIMIT = 3
"""Bad keys a client address may present per minute before 429."""
OUTPUT: list[str] = []
"""What the `locked` service printed."""


@pytest.fixture(scope="module")
def locked(new_database: Callable[[], str]) -> Iterator[Service]:
    """`crm serve` with a short key cache and low limits for auditors and bad keys; its output
    (logs) is kept in `output`."""
    settings = {
        "database_url": new_database(),
        "port": str(free_port()),
        "key_cache_seconds": str(CACHE_SECONDS),
        "auditor_rate_limit": f"{AUDITOR_LIMIT}/minute",
        "auth_failure_limit": f"{FAILURE_LIMIT}/minute",
    }
    running = start_service(crm_env(**settings), OUTPUT)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(locked: Service) -> Iterator[httpx.Client]:
    assert locked.first_admin_key
    with locked.client(locked.first_admin_key) as client:
        yield client


def as_client(service: Service, key: str, address: str) -> httpx.Client:
    client = service.client(key)
    client.headers["X-Forwarded-For"] = address
    return client


def test_an_admin_creates_lists_and_revokes_a_key_over_http(locked, admin) -> None:
    created = admin.post("/v1/keys", json={"role": "analyst", "name": "dashboards"})
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["role"], body["expires_at"]) == ("dashboards", "analyst", None)
    with as_client(locked, body["key"], "192.0.2.1") as analyst:
        assert analyst.get("/v1/customers").status_code == 200
        listed = admin.get("/v1/keys")
        assert listed.status_code == 200
        assert body["key"] not in listed.text
        mine = next(item for item in listed.json()["items"] if item["id"] == body["id"])
        assert mine["name"] == "dashboards" and mine["last_used_at"] is not None
        assert "key" not in mine
        assert admin.delete(f"/v1/keys/{body['id']}").status_code == 204
        refused = analyst.get("/v1/customers")  # at once: this process revoked it
        assert (refused.status_code, refused.json()["detail"]) == (401, "the API key was revoked")
    assert admin.delete(f"/v1/keys/{body['id']}").status_code == 204  # already revoked
    revoked = next(i for i in admin.get("/v1/keys").json()["items"] if i["id"] == body["id"])
    assert revoked["revoked_at"] is not None


def test_only_admins_manage_keys(locked, keys_of_roles) -> None:
    for role, key in keys_of_roles.items():
        with locked.client(key) as client:
            assert client.get("/v1/keys").status_code == 403, role
            assert client.post("/v1/keys", json={"role": "admin"}).status_code == 403, role
    with locked.client() as anonymous:
        assert anonymous.get("/v1/keys").status_code == 401


@pytest.fixture(scope="module")
def keys_of_roles(admin) -> dict[str, str]:
    return {
        role: admin.post("/v1/keys", json={"role": role}).json()["key"]
        for role in ("service", "analyst", "auditor")
    }


def test_bad_key_requests_are_422_naming_the_field_and_a_taken_name_409(admin) -> None:
    for body, field in (
        ({"role": "root"}, "role"),
        ({"name": "x"}, "role"),
        ({"role": "service", "name": "two words"}, "name"),
        ({"role": "service", "name": ""}, "name"),
        ({"role": "service", "expires_in_days": 0}, "expires_in_days"),
        ({"role": "service", "expires_in_days": "soon"}, "expires_in_days"),
        ({"role": "service", "expires_in_days": True}, "expires_in_days"),
        ({"role": "service", "secret": "mine"}, "secret"),
    ):
        answer = admin.post("/v1/keys", json=body)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == PROBLEM
        assert [e["field"] for e in answer.json()["errors"]] == [field], body
    not_json = admin.post(
        "/v1/keys", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert (not_json.status_code, not_json.json()["errors"][0]["field"]) == (422, "body")
    assert admin.post("/v1/keys", json={"role": "service", "name": "taken"}).status_code == 201
    taken = admin.post("/v1/keys", json={"role": "analyst", "name": "taken"})
    assert (taken.status_code, taken.json()["type"]) == (409, "/problems/key-name-taken")
    assert taken.json()["errors"][0]["field"] == "name"
    for unknown in ("00000000-0000-4000-8000-000000000000", "not-an-id"):
        assert admin.delete(f"/v1/keys/{unknown}").status_code == 404


def test_a_key_past_its_expiry_is_401(locked, admin) -> None:
    created = admin.post("/v1/keys", json={"role": "service", "expires_in_days": 7}).json()
    assert created["expires_at"] is not None
    with as_client(locked, created["key"], "192.0.2.2") as client:
        assert client.get("/v1/customers").status_code == 200
        with psycopg.connect(locked.env["CRM_DATABASE_URL"], autocommit=True) as conn:
            conn.execute(
                "UPDATE crm_api_keys SET expires_at = now() WHERE id = %s", (created["id"],)
            )
        wait_for(lambda: client.get("/v1/customers").status_code == 401, CACHE_SECONDS + 5)
        assert client.get("/v1/customers").json()["detail"] == "the API key has expired"


def test_a_key_revoked_by_another_process_stops_working_within_the_cache_seconds(
    locked, admin
) -> None:
    created = admin.post("/v1/keys", json={"role": "analyst"}).json()
    with as_client(locked, created["key"], "192.0.2.3") as analyst:
        assert analyst.get("/v1/customers").status_code == 200  # now in the API's cache
        with psycopg.connect(locked.env["CRM_DATABASE_URL"]) as conn:
            revoke_key(conn, UUID(created["id"]))  # as `crm keys revoke` does
        started, answers = time.monotonic(), []
        wait_for(lambda: answers.append(analyst.get("/v1/customers").status_code) or 401 in answers)
        assert time.monotonic() - started < CACHE_SECONDS + 1, answers
        assert set(answers) <= {200, 401}


def test_a_key_past_its_roles_rate_limit_is_429_with_retry_after(locked, admin) -> None:
    key = admin.post("/v1/keys", json={"role": "auditor"}).json()["key"]
    other = admin.post("/v1/keys", json={"role": "auditor"}).json()["key"]
    with locked.client(key) as auditor, locked.client(other) as second:
        assert [auditor.get("/v1/customers").status_code for _ in range(AUDITOR_LIMIT)] == [
            200
        ] * AUDITOR_LIMIT
        refused = auditor.get("/v1/customers")
        assert (refused.status_code, refused.headers["content-type"]) == (429, PROBLEM)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert second.get("/v1/customers").status_code == 200  # counted per key
    assert admin.get("/v1/customers").status_code == 200  # and per role


def test_repeated_bad_keys_from_one_address_are_slowed_valid_keys_still_pass(locked, admin) -> None:
    address, valid = "192.0.2.7", locked.first_admin_key
    with as_client(locked, "crm_guess", address) as guesser:
        assert [guesser.get("/v1/customers").status_code for _ in range(FAILURE_LIMIT)] == [
            401
        ] * FAILURE_LIMIT
        slowed = guesser.get("/v1/customers")
        assert (slowed.status_code, slowed.headers["content-type"]) == (429, PROBLEM)
        assert 1 <= int(slowed.headers["Retry-After"]) <= 60
    with as_client(locked, valid, address) as neighbour:
        assert neighbour.get("/v1/customers").status_code == 200
    with as_client(locked, "crm_guess", "192.0.2.8") as elsewhere:
        assert elsewhere.get("/v1/customers").status_code == 401
    logged = [line for line in OUTPUT if "authentication failed" in line and address in line]
    assert len(logged) == FAILURE_LIMIT  # past the limit, counted but not logged
    assert all('"reason": "unknown"' in line for line in logged)
    logs = [line for line in OUTPUT if line.startswith("{")]  # not the first start's banner
    assert not any("crm_guess" in line or valid in line for line in logs)
    metrics = admin.get("/metrics").text
    assert re.search(r'crm_auth_failures_total\{reason="throttled"\} [1-9]', metrics)
    assert re.search(r'crm_auth_failures_total\{reason="unknown"\} [1-9]', metrics)


def test_openapi_documents_the_new_key_body(admin) -> None:
    spec = admin.get("/openapi.json").json()
    body = spec["paths"]["/v1/keys"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["role"]
    role = body["schema"]["properties"]["role"]["$ref"].rsplit("/", 1)[-1]
    assert spec["components"]["schemas"][role]["enum"] == ["service", "analyst", "auditor", "admin"]
