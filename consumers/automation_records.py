"""What `crm automate` records in PostgreSQL: how far each of its followers has read the
event store, and how far each campaign's send got."""

from dataclasses import astuple, dataclass
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

DDL = """
CREATE TABLE IF NOT EXISTS crm_automation (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS crm_automation_campaigns (
    campaign_id uuid PRIMARY KEY,
    after_customer uuid NOT NULL,
    sent integer NOT NULL,
    suppressed integer NOT NULL,
    render_failed integer NOT NULL,
    bounced integer NOT NULL
);
"""
FIRST = UUID(int=0)


@dataclass
class Progress:
    """How far a campaign's send got: the last customer id done, and the counts so far
    (`render_failed` counts the suppressions for a template that did not render)."""

    after: UUID = FIRST
    sent: int = 0
    suppressed: int = 0
    render_failed: int = 0
    bounced: int = 0

    def counts(self) -> dict[str, int]:
        """The counts, by name (for logs)."""
        return {
            "sent": self.sent,
            "suppressed": self.suppressed,
            "render_failed": self.render_failed,
            "bounced": self.bounced,
        }


def position(pool: ConnectionPool[Any], name: str) -> int:
    """The position in the event store the named follower has done, 0 at first."""
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO crm_automation (name) VALUES (%s) ON CONFLICT DO NOTHING", (name,)
        )
        row = conn.execute("SELECT position FROM crm_automation WHERE name = %s", (name,))
        return row.fetchone()[0]  # type: ignore[index]


def record_position(pool: ConnectionPool[Any], name: str, done: int) -> None:
    """Records that the named follower has done the events up to `done`."""
    with pool.connection() as conn:
        conn.execute("UPDATE crm_automation SET position = %s WHERE name = %s", (done, name))


def progress(pool: ConnectionPool[Any], campaign_id: UUID) -> Progress:
    """How far the campaign's send got (nothing done if it never started)."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT after_customer, sent, suppressed, render_failed, bounced"
            " FROM crm_automation_campaigns WHERE campaign_id = %s",
            (campaign_id,),
        ).fetchone()
    return Progress(*row) if row else Progress()


def save_progress(pool: ConnectionPool[Any], campaign_id: UUID, done: Progress) -> None:
    """Records how far the campaign's send got."""
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO crm_automation_campaigns (campaign_id, after_customer, sent,"
            " suppressed, render_failed, bounced) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (campaign_id) DO UPDATE SET after_customer = EXCLUDED.after_customer,"
            " sent = EXCLUDED.sent, suppressed = EXCLUDED.suppressed,"
            " render_failed = EXCLUDED.render_failed, bounced = EXCLUDED.bounced",
            (campaign_id, *astuple(done)),
        )
