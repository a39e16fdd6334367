"""Stored events are never changed: PostgreSQL refuses every UPDATE, DELETE and TRUNCATE of
`crm_events`, whoever sends it, unless the transaction is a migration that says so.

Triggers do it (an INSERT fires none, so the write path pays nothing). A migration that
rewrites events in place (`crm migrate encrypt-personal-data`) calls `allow_rewrite` in its
transaction: the permission ends with that transaction, and holds only for the table's owner
(a service login that does not own it is refused whatever it sets). This stops the service's own code,
a bug or an injected statement from rewriting history, and an administrator from doing it
by accident; one who lifts the guard on purpose is caught by the audit log's signed tree
heads (docs/operations.md, "Append-only events").
"""

from typing import Any

from psycopg import Connection

from infra.event_store import EVENTS_TABLE

SETTING = "crm.rewrite_events"
"""The transaction-local setting a migration turns `on` to rewrite events."""

DDL = f"""
CREATE OR REPLACE FUNCTION crm_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{SETTING}', true) IS DISTINCT FROM 'on'
        OR NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
    THEN
        RAISE EXCEPTION 'stored events are append-only: % of {EVENTS_TABLE} refused', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'the owner may, in a migration transaction that sets {SETTING}';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_trigger
        WHERE tgrelid = '{EVENTS_TABLE}'::regclass AND tgname = 'crm_events_append_only'
    ) THEN
        CREATE TRIGGER crm_events_append_only BEFORE UPDATE OR DELETE ON {EVENTS_TABLE}
            FOR EACH ROW EXECUTE FUNCTION crm_events_append_only();
        CREATE TRIGGER crm_events_never_truncated BEFORE TRUNCATE ON {EVENTS_TABLE}
            FOR EACH STATEMENT EXECUTE FUNCTION crm_events_append_only();
    END IF;
END $$;
"""
"""The guard, created once (starting a process does not lock the table to replace it)."""


def allow_rewrite(conn: Connection[Any]) -> None:
    """Lets the current transaction of `conn` update or delete stored events (a migration)."""
    conn.execute("SELECT set_config(%s, 'on', true)", (SETTING,))
