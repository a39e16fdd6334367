"""The access policy, route by route, against real PostgreSQL: every route of the app's route
table is called with every role and with no key; refused callers get 401 (no key) or 403
(role), admitted ones never do; an analyst's answer holds no field its allow-list leaves out
and none of the values seeded into every free-text field of a customer's data; answers with
personal data are `no-store` and land in the customer's access log."""

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api.access_policy import POLICY, rule_for
from api.bootstrap import bootstrap
from consumers.store_follower import StoreFollower
from infra.api_keys import Role, create_key
from infra.settings import Settings
from projections.catalog import PROJECTIONS
from tests.integration.in_process_app import serving

NO_LIMITS = {f"{role}_rate_limit": "" for role in Role} | {"auth_failure_limit": ""}
CALLERS: tuple[Role | None, ...] = (None, Role.ANALYST, Role.AUDITOR, Role.SERVICE, Role.ADMIN)


@dataclass
class Crm:
    """The app, a key per role, and the ids and values seeded into it."""

    client: TestClient
    keys: dict[Role, str]
    ids: dict[str, str]
    seeded: list[str]
    catch_up: Callable[[], None]

    def call(self, role: Role | None, method: str, url: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return self.client.request(method, url, headers=headers, **kwargs)

    def ok(self, role: Role, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.call(role, method, url, json=body)
        assert answer.status_code < 300, (url, answer.status_code, answer.text)
        return answer.json() if answer.content else None


@pytest.fixture(scope="module")
def crm(new_database: Callable[[], str]) -> Iterator[Crm]:
    settings = Settings(database_url=new_database(), _env_file=None, **NO_LIMITS)  # type: ignore[arg-type]
    container = bootstrap(settings)
    container.start()
    with psycopg.connect(container.url, autocommit=True) as conn:
        keys = {role: create_key(conn, role, f"{role}-policy")[0] for role in Role}
    follower = StoreFollower(
        container.store, container.pool, container.url, list(PROJECTIONS.values())
    )
    try:
        with serving(container, settings) as client:
            crm = Crm(client, keys, {}, [], follower.catch_up)  # type: ignore[arg-type]
            _seed(crm)
            yield crm
    finally:
        container.close()


def _seed(crm: Crm) -> None:
    """A customer with a distinct value in every free-text field, and their ticket, deal,
    leads, feedback and a campaign to them."""
    run = uuid.uuid4().hex[:8]

    def value(name: str) -> str:
        made = f"seed{name}{run}"
        crm.seeded.append(made)
        return made

    digits = str(uuid.uuid4().int)[:9]
    crm.seeded.append(digits)
    crm.ok(Role.ADMIN, "PUT", "/v1/custom-fields/national_id", {"type": "text"})
    customer = crm.ok(
        Role.SERVICE,
        "POST",
        "/v1/customers",
        {
            "external_ref": f"ref-{run}",
            "name": value("name"),
            "email": f"{value('email')}@example.com",
            "phone": f"+49 {digits}",
            "address": {"line1": value("street"), "city": value("city")},
            "website": f"https://{value('website')}.example.com/",
            "hobbies": [value("hobby")],
            "memberships": [value("club")],
            "family": [{"relation": "child", "name": value("child")}],
            "custom_fields": {"national_id": value("nationalid")},
            "tags": ["vip"],
        },
    )["id"]
    crm.ids["customer_id"] = customer
    base = f"/v1/customers/{customer}"
    crm.ok(
        Role.SERVICE,
        "POST",
        f"{base}/interactions",
        {
            "channel": "call",
            "direction": "inbound",
            "subject": value("callsubject"),
            "notes": value("callnotes"),
        },
    )
    crm.ok(Role.SERVICE, "POST", f"{base}/purchases", {"order_id": "o1", "total": "5", "currency": "EUR"})  # fmt: skip
    crm.ok(Role.SERVICE, "POST", f"{base}/feedback", {"rating": 2, "comment": value("feedback")})
    ticket = crm.ok(
        Role.SERVICE,
        "POST",
        f"{base}/complaints",
        {"subject": value("ticketsubject"), "description": value("ticketbody"), "channel": "email"},
    )["id"]
    crm.ids["ticket_id"] = ticket
    crm.ok(Role.SERVICE, "POST", f"/v1/tickets/{ticket}/replies", {"author": "agent", "body": value("reply")})  # fmt: skip
    deal = crm.ok(
        Role.SERVICE,
        "POST",
        "/v1/deals",
        {
            "customer_id": customer,
            "title": value("dealtitle"),
            "amount": "100",
            "currency": "EUR",
            "stage": "proposal",
            "owner": value("dealowner"),
        },
    )["id"]
    crm.ids["deal_id"] = deal
    crm.ok(Role.SERVICE, "POST", f"/v1/deals/{deal}/lost", {"reason": value("lostreason")})
    lead = crm.ok(
        Role.SERVICE,
        "POST",
        "/v1/leads",
        {
            "name": value("leadname"),
            "email": f"{value('leademail')}@example.com",
            "company": value("company"),
            "attributes": {"mobile": value("mobile")},
        },
    )["id"]
    crm.ids["lead_id"] = lead
    other = crm.ok(Role.SERVICE, "POST", "/v1/leads", {"name": "L", "email": f"l{run}@example.com"})
    crm.ok(Role.SERVICE, "POST", f"/v1/leads/{other['id']}/disqualify", {"reason": value("why")})
    crm.ids["campaign_id"] = crm.ok(
        Role.SERVICE,
        "POST",
        "/v1/campaigns",
        {"name": "c", "subject": "Hi", "body_html": "<p>Hi</p>", "customer_ids": [customer]},
    )["id"]
    crm.ids["segment_id"] = crm.ok(
        Role.SERVICE, "POST", "/v1/segments", {"name": f"vip-{run}", "criteria": {"tag": "vip"}}
    )["id"]
    crm.catch_up()


def _routes() -> list[tuple[str, str]]:
    from api.app import create_app  # the route table, without a database

    app = create_app(None, None, Settings(_env_file=None))  # type: ignore[arg-type]
    return [
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        for method in sorted(context.methods or ())
        if method != "HEAD"
    ]


ROUTES = _routes()


def _url(path: str, ids: dict[str, str]) -> str:
    """The path with the seeded ids in it (a fresh id where none was seeded)."""
    return re.sub(r"{(\w+)}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_each_route_admits_and_shows_what_the_policy_says(crm: Crm, method: str, path: str) -> None:
    rule = rule_for(method, path)
    assert rule is not None, f"{method} {path} has no rule in api/access_policy.py"
    url = _url(path, crm.ids | {"key": "national_id"})
    body = None if method in ("GET", "DELETE") else {}
    for role in CALLERS:
        answer = crm.call(role, method, url, json=body)
        where = f"{method} {url} as {role or 'no key'}: {answer.status_code}"
        if rule.public:
            assert answer.status_code not in (401, 403), where
            continue
        if role is None:
            assert answer.status_code == 401, where
            continue
        if role not in rule.roles:
            assert answer.status_code == 403, where
            continue
        assert answer.status_code not in (401, 403), where
        if answer.status_code != 200 or "json" not in answer.headers.get("content-type", ""):
            continue
        view = rule.roles[role]
        if not view.whole:
            assert view.shown(answer.json()) == answer.json(), f"{where}: more than allowed"
            leaked = [v for v in crm.seeded if v in answer.text]
            assert leaked == [], f"{where}: personal data {leaked}"
        elif rule.carries_personal_data:
            assert answer.headers.get("cache-control") == "no-store", where


def test_the_policy_names_no_route_twice_and_every_route_is_called() -> None:
    assert len(POLICY) == len({re.sub(r"{\w+}", "{}", route) for route in POLICY})
    assert len(ROUTES) > 60


def test_analysts_get_each_answer_with_personal_data_without_any_of_it(crm: Crm) -> None:
    customer, ticket = crm.ids["customer_id"], crm.ids["ticket_id"]
    for url in (
        f"/v1/customers/{customer}",
        f"/v1/customers/{customer}/timeline",
        "/v1/customers?tag=vip",
        f"/v1/tickets/{ticket}",
        f"/v1/deals/{crm.ids['deal_id']}",
        f"/v1/leads/{crm.ids['lead_id']}",
        "/v1/pipeline",
    ):
        analyst = crm.call(Role.ANALYST, "GET", url)
        service = crm.call(Role.SERVICE, "GET", url)
        assert analyst.status_code == service.status_code == 200, url
        assert [v for v in crm.seeded if v in analyst.text] == [], url
        assert [v for v in crm.seeded if v in service.text] != [], url  # service is entitled


def test_search_escapes_wildcards_and_analysts_search_no_personal_field(crm: Crm) -> None:
    ref = crm.ok(Role.SERVICE, "GET", f"/v1/customers/{crm.ids['customer_id']}")["external_ref"]
    name = next(v for v in crm.seeded if v.startswith("seedname"))

    def found(role: Role, q: str) -> list[str]:
        return [c["id"] for c in crm.ok(role, "GET", f"/v1/customers?q={q}")["items"]]

    assert found(Role.SERVICE, name[2:-2]) == [crm.ids["customer_id"]]
    assert found(Role.ANALYST, name[2:-2]) == []
    assert found(Role.ANALYST, "seedemail") == []
    assert found(Role.ANALYST, ref) == [crm.ids["customer_id"]]
    assert found(Role.SERVICE, "%25") == []  # a percent sign (URL-encoded), not a wildcard
    assert found(Role.SERVICE, "seed_ame") == []


def test_reads_of_personal_data_are_in_the_customers_access_log(crm: Crm) -> None:
    customer = crm.ids["customer_id"]
    crm.ok(Role.SERVICE, "GET", f"/v1/customers/{customer}")
    crm.ok(Role.AUDITOR, "GET", f"/v1/customers/{customer}/timeline")
    crm.call(Role.ANALYST, "GET", f"/v1/customers/{customer}")
    crm.client.app.state.access_log.flush()  # type: ignore[attr-defined]
    items, cursor = [], None
    while True:
        page = crm.ok(
            Role.AUDITOR,
            "GET",
            f"/v1/customers/{customer}/access-log?limit=2"
            + (f"&cursor={cursor}" if cursor else ""),
        )
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    reads = {(i["principal"], i["role"], i["route"]) for i in items}
    assert ("service-policy", "service", "GET /v1/customers/{customer_id}") in reads
    assert ("auditor-policy", "auditor", "GET /v1/customers/{customer_id}/timeline") in reads
    assert "analyst" not in {i["role"] for i in items}
    assert {i["customer_id"] for i in items} == {customer}
    assert all(i["correlation_id"] and i["read_at"] for i in items)
    assert crm.call(Role.AUDITOR, "GET", f"/v1/customers/{uuid.uuid4()}/access-log").status_code == 404  # fmt: skip


def test_analysts_may_not_filter_by_a_personal_field(crm: Crm) -> None:
    owner = next(v for v in crm.seeded if v.startswith("seeddealowner"))
    assert crm.call(Role.ANALYST, "GET", f"/v1/pipeline?owner={owner}").status_code == 403
    assert crm.call(Role.SERVICE, "GET", f"/v1/pipeline?owner={owner}").status_code == 200
    assert crm.call(Role.ANALYST, "GET", "/v1/pipeline").status_code == 200


def test_a_customer_is_found_by_exact_email_through_its_blind_index(crm: Crm) -> None:
    email = next(v for v in crm.seeded if v.startswith("seedemail")) + "@example.com"
    shouted = f" {email.upper()} "  # case and outer spaces aside: the same email

    def found(role: Role, value: str) -> Any:
        return crm.call(role, "GET", "/v1/customers", params={"email": value})

    assert [c["id"] for c in found(Role.SERVICE, shouted).json()["items"]] == [
        crm.ids["customer_id"]
    ]
    assert found(Role.SERVICE, email[1:]).json()["items"] == []  # exact, not a substring
    assert found(Role.ANALYST, email).status_code == 403  # no oracle of who is a customer
