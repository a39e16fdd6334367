"""`q` of the customer search on a real customer_360 with its trigram indexes: the customers
found, page after page, are those with `q` in a searched field ignoring case (`%`, `_` and `\\`
plain), whether PostgreSQL reads the indexes or scans the table."""

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.customer_360.queries import search
from projections.customer_360.table import SCHEMA, TABLE

letters = st.text("aAbB _%\\", max_size=5)
customers = st.lists(
    st.tuples(letters, letters, st.one_of(st.none(), letters), st.lists(letters, max_size=3)),
    max_size=8,
)
INSERT = f"""
INSERT INTO {TABLE} (customer_id, version, last_position, external_ref, name, email,
    personal, profile, tags, consent, custom_fields, purchase_count, purchase_total,
    purchase_totals, feedback_count, rating_sum, interactions, registered_at, updated_at)
VALUES (%s, 1, 1, %s, %s, %s, '{{}}', '{{}}', %s, '{{}}', '{{}}', 0, 0, '{{}}', 0, 0, '{{}}',
    now(), now())
"""  # noqa: S608 - the table's own name


@pytest.fixture(scope="module")
def conn(new_database: Callable[[], str]) -> Iterator[psycopg.Connection[Any]]:
    """A database holding customer_360 with its indexes (the trigram ones among them)."""
    with psycopg.connect(new_database(), autocommit=True) as connection:
        SCHEMA.create(connection, TABLE)
        SCHEMA.index(connection, TABLE)
        yield connection


def found(conn: psycopg.Connection[Any], q: str, personal: bool) -> list[UUID]:
    """Every customer the search finds, two a page."""
    ids: list[UUID] = []
    cursor = None
    while True:
        page = search(conn, q=q, personal=personal, cursor=cursor, limit=2)
        ids += [UUID(item["id"]) for item in page.items]
        if (cursor := page.next_cursor) is None:
            return ids


@settings(max_examples=60, deadline=None)
@given(customers, letters.filter(bool), st.booleans(), st.booleans())
def test_q_finds_the_customers_with_it_in_a_searched_field(
    conn: psycopg.Connection[Any],
    rows: list[tuple[str, str, str | None, list[str]]],
    q: str,
    personal: bool,
    indexes_only: bool,
) -> None:
    conn.execute(f"TRUNCATE {TABLE}")
    expected = []
    for ref, name, email, tags in rows:
        customer = uuid4()
        conn.execute(INSERT, (customer, ref, name, email, tags))
        fields = [ref, *tags, *((name, email or "") if personal else ())]
        if any(q.lower() in field.lower() for field in fields):
            expected.append(customer)
    conn.execute(
        f"SET enable_seqscan = {not indexes_only}; SET enable_indexscan = {not indexes_only}"
    )
    assert found(conn, q, personal) == sorted(expected)


def test_q_spanning_two_tags_finds_neither(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"TRUNCATE {TABLE}")
    conn.execute(INSERT, (uuid4(), "shop-1", "Ada", None, ["newsletter", "vip"]))
    conn.execute("SET enable_seqscan = off; SET enable_indexscan = off")
    assert found(conn, "letter vi", personal=True) == []
    assert len(found(conn, "letter", personal=False)) == 1
