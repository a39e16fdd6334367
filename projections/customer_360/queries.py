"""Questions answered by the customer 360 read model."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from domain.events.envelope import Envelope
from domain.segment import Criteria
from infra import page_cursor as cursor_codec
from projections.customer_360.evolve import Row, evolve

CENT = Decimal("0.01")
TRIGRAM = 3
"""A shorter q has no trigram: a trigram index would be read whole (see `_found`)."""


@dataclass(frozen=True)
class Page:
    """A page of customers and the cursor of the next one (None at the end)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def get(conn: Connection[Any], customer_id: UUID) -> dict[str, Any] | None:
    """The 360 view of one customer, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM customer_360 WHERE customer_id = %s", (customer_id,)
        ).fetchone()
    return view(row) if row else None


def emails(conn: Connection[Any], customer_ids: list[UUID]) -> dict[UUID, str]:
    """The email addresses of the given customers that have one, by customer id."""
    rows = conn.execute(
        "SELECT customer_id, email FROM customer_360"
        " WHERE customer_id = ANY(%s) AND email IS NOT NULL",
        (customer_ids,),
    ).fetchall()
    return dict(rows)  # type: ignore[arg-type]


def as_of(
    events: list[Envelope], occurred: datetime | None = None, recorded: datetime | None = None
) -> dict[str, Any] | None:
    """The 360 view as it stood at business time `occurred`, as far as it was recorded by
    `recorded` (None: no bound on that clock), folded from the customer's events."""
    row: Row | None = None
    for event in events:
        if (occurred is None or event.occurred_at <= occurred) and (
            recorded is None or event.recorded_at <= recorded
        ):
            row = evolve(row, event)
    return view(row) if row else None


def search(
    conn: Connection[Any],
    *,
    q: str | None = None,
    tag: str | None = None,
    external_ref: str | None = None,
    email_digest: str | None = None,
    criteria: Criteria | None = None,
    cursor: str | None = None,
    limit: int = 50,
    personal: bool = True,
) -> Page:
    """Customers matching every given filter (and a segment's `criteria`), ordered by id, a
    page at a time. `q` is a substring (`%` and `_` are themselves) of the external
    reference or a tag, or with `personal` of the name or email too; `email_digest` the blind
    index of an email."""
    where, params = matching(criteria or Criteria())
    if q:
        condition, values = _found(q, personal)
        where.append(condition)
        params += values
    if tag:
        where.append("tags @> ARRAY[%s]::text[]")
        params.append(tag)
    if external_ref:
        where.append("external_ref = %s")
        params.append(external_ref)
    if email_digest:  # the writer's blind index (infra.email_index)
        where.append("customer_id IN (SELECT customer_id FROM crm_email_index WHERE digest = %s)")
        params.append(email_digest)
    if cursor:
        where.append("customer_id > %s")
        params.append(str(_after(cursor)))
    query = f"SELECT * FROM customer_360 WHERE {' AND '.join(where)} ORDER BY customer_id LIMIT %s"
    with conn.cursor(row_factory=dict_row) as cur:
        # never prepared: a plan made for any q cannot tell a rare q (index) from a common one
        rows = cur.execute(query, [*params, limit + 1], prepare=False).fetchall()  # type: ignore[arg-type]
    items = [summary(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items, cursor_codec.encode(str(rows[limit - 1]["customer_id"])) if more else None)


def _found(q: str, personal: bool) -> tuple[str, list[str]]:
    """The condition that `q` is in the external reference, a tag, or (with `personal`) the
    name or email, ignoring case, and its parameters. From TRIGRAM characters on, ILIKE
    patterns that the trigram indexes serve (customer_360/table.py): the tags joined in one
    text for the index, then each tag, since a q may span two. A shorter q is matched with
    strpos on lowercased text (ILIKE's own rule), which no index serves: the rows are walked
    in id order, to the end of a page, rather than read through an index in full."""
    columns = ("external_ref", "name", "email") if personal else ("external_ref",)
    if len(q) < TRIGRAM:
        tagged = "EXISTS (SELECT FROM unnest(tags) t WHERE strpos(lower(t), lower(%s)) > 0)"
        found = [f"strpos(lower({column}), lower(%s)) > 0" for column in columns]
        return f"({' OR '.join([*found, tagged])})", [q] * (len(found) + 1)
    tagged = "crm_tags_text(tags) ILIKE %s AND EXISTS (SELECT FROM unnest(tags) t WHERE t ILIKE %s)"
    found = [f"{column} ILIKE %s" for column in columns]
    return f"({' OR '.join([*found, f'({tagged})'])})", [f"%{_literal(q)}%"] * (len(found) + 2)


def _literal(text: str) -> str:
    """`text` as a LIKE pattern that matches itself (backslash is LIKE's escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matching(criteria: Criteria) -> tuple[list[str], list[Any]]:
    """SQL conditions on customer_360 (all must hold) and their parameters, for criteria."""
    where, params = ["TRUE"], []
    for condition, value in (
        ("tags @> ARRAY[%s]::text[]", criteria.tag),
        ("purchase_count >= %s", criteria.min_purchases),
        ("purchase_count <= %s", criteria.max_purchases),
        ("purchase_total >= %s", criteria.min_total),
        ("purchase_total <= %s", criteria.max_total),
        ("last_purchase_at < %s", criteria.last_purchase_before),
        ("last_purchase_at > %s", criteria.last_purchase_after),
        ("profile ->> 'source' = %s", criteria.source),
        ("custom_fields @> %s", Jsonb(criteria.custom_fields) if criteria.custom_fields else None),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    return where, params


def count(conn: Connection[Any], criteria: Criteria) -> int:
    """How many customers match the criteria."""
    where, params = matching(criteria)
    query = f"SELECT count(*) FROM customer_360 WHERE {' AND '.join(where)}"  # noqa: S608
    return conn.execute(query, params).fetchone()[0]  # type: ignore[index]


def summary(row: Row) -> dict[str, Any]:
    """The short form of a customer in lists."""
    return {
        "id": str(row["customer_id"]),
        "version": row["version"],
        "external_ref": row["external_ref"],
        "name": row["name"],
        "email": row["email"],
        "tags": row["tags"],
        "purchases": {"count": row["purchase_count"], "total": Decimal(row["purchase_total"])},
    }


def view(row: Row) -> dict[str, Any]:
    """The full 360 view of a row."""
    count = row["purchase_count"]
    total = Decimal(row["purchase_total"])
    main_count = row["purchase_totals"].get(row["purchase_currency"], {}).get("count", 0)
    last = max(row["interactions"].items(), key=lambda kv: kv[1]["last_at"], default=None)
    return {
        **summary(row),
        "phone": row["phone"],
        "personal": row["personal"],
        "profile": row["profile"],
        "consent": row["consent"],
        "custom_fields": row["custom_fields"],
        "purchases": {
            "count": count,
            "total": total,
            "currency": row["purchase_currency"],
            "average_order_value": (total / main_count).quantize(CENT) if main_count else None,
            "first_at": row["first_purchase_at"],
            "last_at": row["last_purchase_at"],
            "by_currency": {
                currency: {"count": t["count"], "total": Decimal(t["total"])}
                for currency, t in row["purchase_totals"].items()
            },
        },
        "feedback": {
            "count": row["feedback_count"],
            "average_rating": round(row["rating_sum"] / row["feedback_count"], 2)
            if row["feedback_count"]
            else None,
        },
        "email_engagement": row["email_engagement"],
        "open_tickets": _open(row["tickets"], ("open", "pending")),
        "open_deals": _open(row["deals"], ("open",)),
        "last_interaction": {"channel": last[0], **last[1]} if last else None,
        "interactions_by_channel": row["interactions"],
        "registered_at": row["registered_at"],
        "updated_at": row["updated_at"],
    }


def _open(entries: dict[str, Any], statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    """The tickets or deals in one of `statuses`, oldest first, each with its id."""
    chosen = [{"id": key, **entry} for key, entry in entries.items() if entry["status"] in statuses]
    return sorted(chosen, key=lambda entry: entry["opened_at"])


def _after(cursor: str) -> UUID:
    """The customer id a search cursor holds; ValueError if it is not one of ours."""
    try:
        return UUID(cursor_codec.decode(cursor))
    except ValueError:
        raise ValueError("invalid cursor") from None
