"""Each customer's purchase days, for models of buying behaviour (BG/NBD)."""

from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID

from psycopg import Connection


def purchase_days(conn: Connection[Any], until: date) -> dict[UUID, list[date]]:
    """The distinct UTC days on which each customer bought, up to and including `until`."""
    rows = conn.execute(
        "SELECT DISTINCT customer_id, occurred_on FROM purchases WHERE occurred_on <= %s",
        (until,),
    ).fetchall()
    days: defaultdict[UUID, list[date]] = defaultdict(list)
    for customer_id, day in rows:
        days[customer_id].append(day)
    return days
