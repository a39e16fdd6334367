"""The access policy: for every route, which roles may call it and what each of them sees of
its answer, as an allow-list. Nothing else in the code decides it: `api.policing` enforces
it on every route, the access test (tests/integration/test_access_policy.py) calls every
route of the app with every role against it, and the docs' table is generated from it.

Roles (docs/api.md, "Keys and roles"): `service` sends commands and reads, personal data
included (a shop's services need it); `analyst` reads without any personal data; `auditor`
reads everything, personal data included, and changes nothing; `admin` may do everything.

A role sees either `EVERYTHING` of an answer, or only the `Fields` listed: a field not
listed is absent, so a field added to an answer later stays hidden from analysts until it is
listed here. An answer whose full form carries personal data names its `subject` (whose
data it is): such an answer is `Cache-Control: no-store`, and when a role sees it whole, the
read is written to the access log (`infra.access_log`).
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.events.catalogue import BY_NAME
from infra.api_keys import Role

Json = Any
"""A decoded JSON answer."""
Tree = dict[str, "Tree | bool"]
"""Allowed paths as a tree: a key maps to True (the whole value) or to the allowed keys
inside it; `*` stands for every item of a list or every value of a map."""

_PARAMETER = re.compile(r"{[^}]*}")


class View:
    """What a role sees of a route's answer."""

    def shown(self, answer: Json) -> Json:
        """`answer` as this view shows it."""
        raise NotImplementedError

    @property
    def whole(self) -> bool:
        """Whether the view is the whole answer, personal data included."""
        return False

    def described(self) -> str:
        """What the view shows, for the docs' table."""
        raise NotImplementedError


class _Everything(View):
    def shown(self, answer: Json) -> Json:
        return answer

    @property
    def whole(self) -> bool:
        return True

    def described(self) -> str:
        return "all"

    def __repr__(self) -> str:
        return "EVERYTHING"


EVERYTHING = _Everything()
"""The whole answer, personal data included."""


@dataclass(frozen=True)
class Fields(View):
    """Only the fields named: dotted paths into the answer (`purchases` is the whole
    `purchases` object; `open_tickets.*.status` is the `status` of each open ticket)."""

    paths: tuple[str, ...]
    tree: Tree = field(init=False, repr=False, compare=False)

    def __init__(self, *paths: str) -> None:
        object.__setattr__(self, "paths", paths)
        object.__setattr__(self, "tree", _tree(paths))

    def shown(self, answer: Json) -> Json:
        return kept(answer, self.tree)

    def described(self) -> str:
        return "only " + ", ".join(f"`{path}`" for path in self.paths)


@dataclass(frozen=True, init=False)
class EventFields(Fields):
    """The fields named, and in each event of `items` only the fields of its `data` that the
    event catalogue does not mark personal (an event type not in the catalogue: no data)."""

    def shown(self, answer: Json) -> Json:
        shown = kept(answer, self.tree)
        for event, source in zip(shown.get("items", ()), answer.get("items", ()), strict=True):
            entry = BY_NAME.get(source.get("type"))
            personal = entry.personal_fields if entry else None
            data = source.get("data") or {}
            event["data"] = (
                {} if personal is None else {k: v for k, v in data.items() if k not in personal}
            )
        return shown

    def described(self) -> str:
        return (
            super().described()
            + ", and `items.*.data` without the fields the event catalogue marks personal"
        )


def _tree(paths: Iterable[str]) -> Tree:
    tree: Tree = {}
    for path in paths:
        *parents, last = path.split(".")
        node = tree
        for part in parents:
            child = node.setdefault(part, {})
            if child is True:
                break
            assert isinstance(child, dict)
            node = child
        else:
            node[last] = True
    return tree


def kept(value: Json, tree: Tree | bool) -> Json:
    """`value` with only what `tree` allows (True: all of it)."""
    if tree is True:
        return value
    assert isinstance(tree, dict)
    if isinstance(value, dict):
        if "*" in tree:
            return {k: kept(v, tree["*"]) for k, v in value.items()}
        return {k: kept(v, tree[k]) for k, v in value.items() if k in tree}
    if isinstance(value, list):
        return [kept(v, tree["*"]) for v in value] if "*" in tree else []
    return value  # a null (or a scalar) where an object may be


@dataclass(frozen=True)
class Subject:
    """Whose personal data an answer carries: the customers (or leads) it names."""

    description: str
    ids: Callable[[Mapping[str, str], Json], list[str]]
    """The subjects' ids, from the path's parameters and (if `in_answer`) the answer."""
    in_answer: bool = True


PATH_CUSTOMER = Subject(
    "the customer in the path", lambda path, _: [path["customer_id"]], in_answer=False
)
ANSWER_CUSTOMER = Subject("the answer's `customer_id`", lambda _, body: [body["customer_id"]])
LISTED_CUSTOMERS = Subject(
    "each customer listed", lambda _, body: [item["id"] for item in body["items"]]
)
LEAD = Subject(
    "the lead's customer once converted, else the lead itself",
    lambda _, body: [body.get("customer_id") or body["id"]],
)


@dataclass(frozen=True)
class Rule:
    """Who may call a route (each role with its view), whose personal data its whole answer
    carries, and whether it needs a key at all."""

    roles: Mapping[Role, View]
    subject: Subject | None = None
    personal: bool = False
    """The whole answer may carry personal data (always so when there is a subject)."""
    public: bool = False
    """No key needed: health, metrics, tracking links, the OpenAPI document."""
    personal_parameters: frozenset[str] = frozenset()
    """Query parameters that search personal data: refused (403) to a role that does not
    see the answer whole, so that they cannot serve as an oracle."""

    @property
    def carries_personal_data(self) -> bool:
        return self.personal or self.subject is not None


PUBLIC = Rule({}, public=True)
COMMAND = Rule({Role.SERVICE: EVERYTHING, Role.ADMIN: EVERYTHING})
"""Commands: their answers are ids and versions."""
ADMIN_ONLY = Rule({Role.ADMIN: EVERYTHING})
AUDIT = Rule({Role.AUDITOR: EVERYTHING, Role.ADMIN: EVERYTHING})
"""The audit routes: proofs, signed heads, who read what (no customer's personal data)."""


def readers(analyst: View = EVERYTHING, **rule: Any) -> Rule:
    """A read route for every role; the analyst sees `analyst` of it."""
    views = {Role.SERVICE: EVERYTHING, Role.AUDITOR: EVERYTHING, Role.ADMIN: EVERYTHING}
    return Rule(views | {Role.ANALYST: analyst}, **rule)


CUSTOMER_SUMMARY = ("id", "version", "external_ref", "tags", "purchases")
"""A customer as analysts see it in lists: no name, no email."""

POLICY: dict[str, Rule] = {
    # customers
    "POST /v1/customers": COMMAND,
    "PATCH /v1/customers/{customer_id}": COMMAND,
    "POST /v1/customers/{customer_id}/interactions": COMMAND,
    "POST /v1/customers/{customer_id}/purchases": COMMAND,
    "POST /v1/customers/{customer_id}/feedback": COMMAND,
    "POST /v1/customers/{customer_id}/complaints": COMMAND,
    "GET /v1/customers": readers(
        Fields(*(f"items.*.{name}" for name in CUSTOMER_SUMMARY), "next_cursor"),
        subject=LISTED_CUSTOMERS,
        personal_parameters=frozenset({"email"}),
    ),
    "GET /v1/customers/{customer_id}": readers(
        Fields(
            *CUSTOMER_SUMMARY,
            "consent",
            "feedback",
            "email_engagement",
            "open_tickets.*.id",
            "open_tickets.*.kind",
            "open_tickets.*.priority",
            "open_tickets.*.status",
            "open_tickets.*.opened_at",
            "open_deals.*.id",
            "open_deals.*.amount",
            "open_deals.*.currency",
            "open_deals.*.stage",
            "open_deals.*.probability",
            "open_deals.*.status",
            "open_deals.*.opened_at",
            "last_interaction.channel",
            "last_interaction.count",
            "last_interaction.last_at",
            "last_interaction.direction",
            "interactions_by_channel.*.count",
            "interactions_by_channel.*.last_at",
            "interactions_by_channel.*.direction",
            "registered_at",
            "updated_at",
            "churn_risk",
            "lifetime_value",
        ),
        subject=PATH_CUSTOMER,
    ),
    "GET /v1/customers/{customer_id}/timeline": readers(
        EventFields(
            *(
                f"items.*.{name}"
                for name in (
                    "event_id",
                    "type",
                    "stream_id",
                    "stream_version",
                    "position",
                    "customer_id",
                    "occurred_at",
                    "recorded_at",
                    "actor",
                    "correlation_id",
                    "causation_id",
                    "schema_version",
                    "erased",
                    "proof",
                )
            ),
            "next_cursor",
        ),
        subject=PATH_CUSTOMER,
    ),
    "GET /v1/customers/{customer_id}/export": Rule(AUDIT.roles, subject=PATH_CUSTOMER),
    "GET /v1/customers/{customer_id}/access-log": AUDIT,
    "POST /v1/customers/{customer_id}/erasure": ADMIN_ONLY,
    # tickets
    "POST /v1/tickets/{ticket_id}/replies": COMMAND,
    "POST /v1/tickets/{ticket_id}/status": COMMAND,
    "POST /v1/tickets/{ticket_id}/satisfaction": COMMAND,
    "GET /v1/tickets/{ticket_id}": readers(
        Fields(
            "id",
            "customer_id",
            "version",
            "kind",
            "priority",
            "channel",
            "order_ref",
            "status",
            "opened_at",
            "updated_at",
            "first_response_at",
            "first_response_seconds",
            "solved_at",
            "closed_at",
            "reopened",
            "replies.*.reply_id",
            "replies.*.author",
            "replies.*.at",
            "satisfaction.rating",
            "satisfaction.at",
        ),
        subject=ANSWER_CUSTOMER,
    ),
    # SLA: policies are the company's; tickets' SLA carry no text
    "POST /v1/sla-policies": COMMAND,
    "GET /v1/sla-policies": readers(),
    "GET /v1/sla/tickets": readers(),
    "GET /v1/sla/summary": readers(),
    # deals
    "POST /v1/deals": COMMAND,
    "POST /v1/deals/{deal_id}/stage": COMMAND,
    "POST /v1/deals/{deal_id}/amount": COMMAND,
    "POST /v1/deals/{deal_id}/won": COMMAND,
    "POST /v1/deals/{deal_id}/lost": COMMAND,
    "POST /v1/deals/{deal_id}/reopen": COMMAND,
    "GET /v1/deals/{deal_id}": readers(
        Fields(
            "id",
            "version",
            "customer_id",
            "amount",
            "currency",
            "stage",
            "status",
            "probability",
            "expected_close_date",
            "opened_at",
            "closed_at",
            "history",
        ),
        subject=ANSWER_CUSTOMER,
    ),
    "GET /v1/pipeline/stages": readers(),
    "PUT /v1/pipeline/stages": ADMIN_ONLY,
    "GET /v1/pipeline": readers(
        Fields("stages", "open", "conversion", "win_rate", "forecast"),
        personal=True,
        personal_parameters=frozenset({"owner"}),
    ),
    # leads
    "POST /v1/leads": COMMAND,
    "POST /v1/leads/{lead_id}/qualify": COMMAND,
    "POST /v1/leads/{lead_id}/disqualify": COMMAND,
    "POST /v1/leads/{lead_id}/convert": COMMAND,
    "POST /v1/leads/{lead_id}/engagements": COMMAND,
    "GET /v1/leads/{lead_id}": readers(
        Fields(
            "id",
            "version",
            "status",
            "source",
            "owner_id",
            "duplicate_of",
            "score",
            "engagement",
            "customer_id",
            "deal_id",
            "captured_at",
        ),
        subject=LEAD,
    ),
    "GET /v1/lead-scoring/rules": readers(),
    "PUT /v1/lead-scoring/rules": ADMIN_ONLY,
    "GET /v1/sales-reps": readers(),
    "PUT /v1/sales-reps": ADMIN_ONLY,
    # the company's configuration
    "POST /v1/segments": COMMAND,
    "PATCH /v1/segments/{segment_id}": COMMAND,
    "GET /v1/segments": readers(),
    "GET /v1/segments/{segment_id}": readers(),
    "PUT /v1/custom-fields/{key}": COMMAND,
    "GET /v1/custom-fields": readers(),
    # campaigns: templates and counts
    "POST /v1/campaigns": COMMAND,
    "POST /v1/campaigns/{campaign_id}/recipients": COMMAND,
    "POST /v1/campaigns/{campaign_id}/send": COMMAND,
    "GET /v1/campaigns/{campaign_id}": readers(),
    "GET /v1/campaigns/{campaign_id}/metrics": readers(),
    # analysis
    "GET /v1/reports/sales": readers(),
    "GET /v1/reports/products": readers(),
    "GET /v1/reports/products/bought-together": readers(),
    "GET /v1/churn": readers(),
    "GET /v1/churn/model": readers(),
    "GET /v1/projections": Rule({Role.ANALYST: EVERYTHING, Role.ADMIN: EVERYTHING}),
    # audit and keys
    "GET /v1/audit/verify": AUDIT,
    "GET /v1/audit/public-key": AUDIT,
    "GET /v1/audit/tree-heads/latest": AUDIT,
    "GET /v1/audit/proofs/inclusion": AUDIT,
    "GET /v1/audit/proofs/consistency": AUDIT,
    "GET /v1/keys": ADMIN_ONLY,
    "POST /v1/keys": ADMIN_ONLY,
    "DELETE /v1/keys/{key_id}": ADMIN_ONLY,
    # without a key
    "GET /v1/t/o/{token}": PUBLIC,
    "GET /v1/t/c/{token}": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /redoc": PUBLIC,
}
"""Every route's rule, by `METHOD /path` (path parameters may have any name)."""


def _shape(route: str) -> str:
    return _PARAMETER.sub("{}", route)


_BY_SHAPE = {_shape(route): rule for route, rule in POLICY.items()}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of the route `method path` (a path template such as
    `/v1/customers/{customer_id}`), or None if the policy has none."""
    return _BY_SHAPE.get(_shape(f"{method} {path}"))
