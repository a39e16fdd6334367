"""The `customer_360` table: its DDL, and batch reads and upserts of its rows."""

from domain.events.envelope import Envelope
from projections.customer_360.evolve import evolve
from projections.keyed_table import KeyedTable
from projections.table_schema import REWRITTEN_AT_EVERY_EVENT, TableSchema

TABLE = "customer_360"

COLUMNS = (
    "customer_id", "version", "last_position", "external_ref", "name", "email", "phone",
    "personal", "profile", "tags", "consent", "custom_fields",
    "purchase_count", "purchase_currency", "purchase_total", "first_purchase_at",
    "last_purchase_at", "purchase_totals", "feedback_count", "rating_sum",
    "last_interaction_at", "interactions", "registered_at", "updated_at", "tickets", "deals",
    "email_engagement",
)  # fmt: skip

DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    customer_id uuid PRIMARY KEY,
    version int NOT NULL,
    last_position bigint NOT NULL,
    external_ref text,
    name text NOT NULL,
    email text,
    phone text,
    personal jsonb NOT NULL,
    profile jsonb NOT NULL,
    tags text[] NOT NULL,
    consent jsonb NOT NULL,
    custom_fields jsonb NOT NULL,
    purchase_count int NOT NULL,
    purchase_currency text,
    purchase_total numeric NOT NULL,
    first_purchase_at timestamptz,
    last_purchase_at timestamptz,
    purchase_totals jsonb NOT NULL,
    feedback_count int NOT NULL,
    rating_sum int NOT NULL,
    last_interaction_at timestamptz,
    interactions jsonb NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    tickets jsonb NOT NULL DEFAULT '{{}}',
    deals jsonb NOT NULL DEFAULT '{{}}',
    email_engagement jsonb NOT NULL DEFAULT '{{}}'
);
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS tickets jsonb NOT NULL DEFAULT '{{}}';
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS deals jsonb NOT NULL DEFAULT '{{}}';
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS email_engagement jsonb NOT NULL DEFAULT '{{}}';
DO $do$ BEGIN
    IF to_regprocedure('crm_tags_text(text[])') IS NULL THEN
        CREATE FUNCTION crm_tags_text(tags text[]) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$ SELECT array_to_string(tags, ' ') $f$;
    END IF;
END $do$;
"""
"""Times are business times. `name`, `email`, `phone` and `personal` (address, birthday,
family, social links) are personal data. `purchase_currency` is the first purchase's,
`purchase_total` the total in it, `purchase_totals` the totals per currency; `interactions`
counts contacts per channel; `tickets` and `deals` hold the customer's, by id, each with its
status (and a deal's stage, probability and amount); `email_engagement`: sent, suppressed,
bounced, opens, machine_opens, clicks, last opened and clicked. `crm_tags_text(tags)` is the
tags as one text, for a trigram index (array_to_string is not immutable: text's is)."""


def key(event: Envelope) -> str | None:
    """Rows are per customer."""
    return event.customer_id


ROWS = KeyedTable(COLUMNS)
SCHEMA = TableSchema(
    DDL,
    (
        ("external_ref", "(external_ref)"),
        ("tags", "USING gin (tags)"),
        ("email", "(lower(email))"),
    ),
    trigram=(  # what `q` searches (queries.search): external_ref and tags for every role
        ("search_ref", "USING gin (external_ref gin_trgm_ops)"),
        ("search_tags", "USING gin (crm_tags_text(tags) gin_trgm_ops)"),
        ("search_name", "USING gin (name gin_trgm_ops)"),
        ("search_email", "USING gin (email gin_trgm_ops)"),
    ),
    fillfactor=REWRITTEN_AT_EVERY_EVENT,
)


PROJECTION = ROWS.projection(TABLE, SCHEMA, key, evolve)
