"""The composition root: wires settings, PostgreSQL, the event store, the bus and feeds."""

from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool

from commands import side_tables
from commands.bus import CommandBus
from commands.unit_of_work.postgres import PostgresUnitOfWork
from consumers import automation_records, kafka_feed, relay
from infra import (
    access_log,
    api_keys,
    append_only,
    data_keys,
    email_index,
    personal_data_migration,
    tracking,
)
from infra.audit import tree_store
from infra.event_store import CACHED_AGGREGATES, EventStore, open_event_store
from infra.postgres import database_url, open_pool
from infra.settings import Settings
from projections import dead_letters, projection
from projections.catalog import PROJECTIONS

MIGRATION_LOCK = 7_401_312  # advisory lock id: one process creates tables at a time


@dataclass
class Container:
    """Everything a CRM process uses, built once."""

    url: str
    store: EventStore
    pool: ConnectionPool
    bus: CommandBus

    def start(self) -> None:
        """Starts the command writer."""
        self.bus.start()

    def close(self) -> None:
        """Stops what was started and closes connections."""
        if self.bus.alive:
            self.bus.stop()
        self.pool.close()
        self.store.close()


def prepare_database(settings: Settings, *, check_sealed: bool = True) -> str:
    """Connects to (or starts) PostgreSQL, creates missing tables, checks the master key
    (`data_keys.MasterKeyMismatch`: the database knows another), refuses a store whose
    personal data is not sealed yet unless told not to check (`StoreNotSealed`: it needs
    `crm migrate encrypt-personal-data`), and returns its URL."""
    url = database_url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        open_event_store(url, pool_size=1, create_table=True).close()
        conn.execute(append_only.DDL)
        conn.execute(side_tables.DDL)
        conn.execute(email_index.DDL)
        conn.execute(api_keys.DDL)
        conn.execute(access_log.DDL)
        conn.execute(data_keys.DDL)
        data_keys.check_master_key(conn, data_keys.keyring().master)
        if check_sealed:
            personal_data_migration.require_sealed(conn)
        conn.execute(tracking.DDL)
        conn.execute(projection.POSITIONS_DDL)
        conn.execute(dead_letters.DDL)
        conn.execute(relay.DDL)
        conn.execute(kafka_feed.DDL)
        conn.execute(automation_records.DDL)
        conn.execute(tree_store.DDL)
        for each in PROJECTIONS.values():
            projection.register(conn, each)
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return url


def bootstrap(settings: Settings) -> Container:
    """Prepares the database and builds the parts that write commands."""
    return assemble(settings, prepare_database(settings))


def assemble(settings: Settings, url: str, cached_aggregates: int = CACHED_AGGREGATES) -> Container:
    """Builds the parts that write commands on a database that is already prepared, with an
    aggregate cache of `cached_aggregates`. No connection checkout waits longer than the
    database timeout."""
    timeout = settings.database_timeout_seconds
    store = open_event_store(
        url, settings.db_pool_size, checkout_timeout=timeout, cached_aggregates=cached_aggregates
    )
    pool = open_pool(url, settings.db_pool_size, "crm", checkout_timeout=timeout)
    work = PostgresUnitOfWork(store, pool, timeout)
    bus = CommandBus(work, settings.group_commit_max, database_timeout=timeout)
    return Container(url, store, pool, bus)
