"""The `crm` command line."""

import os
import shutil
import tempfile
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer
import uvicorn
from prometheus_client import values as prometheus_values
from rich.console import Console
from rich.progress import Progress

from api.bootstrap import assemble, bootstrap, prepare_database
from api.cli.audit import audit, signing_key_file
from api.cli.imports import imports
from api.cli.keys import keys
from api.cli.migrate import migrate
from api.cli.progress import PROGRESS_COLUMNS
from infra import single_blas_thread  # noqa: F401 - before numpy is imported
from infra.api_keys import create_first_admin_key
from infra.data_keys import MasterKeyMismatch
from infra.logging import configure_logging, error_summary
from infra.personal_data_migration import StoreNotSealed
from infra.postgres import database_url, open_pool
from infra.runtime import exit_normally_on_sigterm, stop_on_signals
from infra.settings import Settings

if TYPE_CHECKING:
    from projections.projection import Projection

app = typer.Typer(
    help="The CRM event store: API, consumers and maintenance.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold personal data
)
app.add_typer(keys, name="keys")
app.add_typer(imports, name="import")
app.add_typer(audit, name="audit")
app.add_typer(migrate, name="migrate")
console = Console()


@app.command()
def serve() -> None:
    """Serve the HTTP API; without Kafka, also feed the read models from the event store."""
    from concurrent.futures import ThreadPoolExecutor

    from consumers.auditor import audit_in_child
    from consumers.store_follower import FollowerProcess
    from infra.child_process import ChildProcess

    settings = Settings()
    configure_logging(settings.log_level)
    metrics_dir = tempfile.mkdtemp(prefix="crm-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # children count into shared files
    # and so does this process (the API's, with one worker) for metrics made from now on:
    # prometheus_client chose in-process values when it was imported, before the directory
    prometheus_values.ValueClass = prometheus_values.get_value_class()
    url = database_url(settings)  # starts the embedded PostgreSQL if none is configured
    os.environ["CRM_DATABASE_URL"] = url  # the API worker processes inherit it
    prepare_database(settings.model_copy(update={"database_url": url}))
    key_file = signing_key_file(settings, url)  # made on first start, unless configured
    os.environ["CRM_AUDIT_SIGNING_KEY_FILE"] = str(key_file.resolve())  # the API's too
    with psycopg.connect(url) as conn:
        first_key = create_first_admin_key(conn)
    if first_key:
        console.print("First start: an admin API key was created. It is shown only once.")
        console.print(f"Admin API key: {first_key}", soft_wrap=True)
    follower = None if settings.kafka_bootstrap else FollowerProcess(url, settings.log_level)
    if follower:
        follower.start()
    auditor = ChildProcess("crm-auditor", audit_in_child, url, str(key_file), settings.log_level)
    auditor.start()
    console.print(f"Serving on http://{settings.host}:{settings.port}", soft_wrap=True)
    exit_normally_on_sigterm()
    try:
        uvicorn.run(
            "api.asgi:create",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            http="api.http_protocol:BoundedHttpTools",  # header, time and connection bounds
            timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]
        )
    finally:
        stops = [auditor.stop] + ([follower.stop] if follower else [])
        with ThreadPoolExecutor() as stopping:  # together: each may take its poll's second
            list(stopping.map(lambda stop: stop(), stops))
        shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def relay() -> None:
    """Publish stored events to Kafka (CRM_KAFKA_BOOTSTRAP), in order, at least once."""
    from consumers.relay import run_relay

    settings = _kafka_settings()
    url = prepare_database(settings)
    stopping = stop_on_signals()
    run_relay(settings, url, lambda: not stopping.is_set())


@app.command()
def automate() -> None:
    """Send requested email campaigns (CRM_SMTP_URL, CRM_PUBLIC_URL) until SIGTERM or SIGINT.

    Reads the event store directly, so it works with or without Kafka. At least once: after
    a crash, emails handed over just before it may be sent again (same Message-ID)."""
    from consumers.automation import run_automation
    from infra.mailer import parse_smtp_url

    settings = Settings()
    configure_logging(settings.log_level)
    if not settings.smtp_url or not settings.public_url:
        console.print(
            "[red]crm automate needs CRM_SMTP_URL (e.g. smtp://host:25) and CRM_PUBLIC_URL"
            " (the base of tracking links, e.g. https://crm.example.com)[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    try:
        parse_smtp_url(settings.smtp_url)
    except ValueError as error:
        console.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    url = prepare_database(settings)
    stopping = stop_on_signals()
    try:
        run_automation(assemble(settings, url), settings, lambda: not stopping.is_set())
    except Exception as error:  # noqa: BLE001 - shown, then a failing exit status
        console.print(f"[red]automation stopped:[/red] {error_summary(error)}", soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def project(
    names: Annotated[
        list[str] | None, typer.Argument(help="projections to feed; all of them by default")
    ] = None,
) -> None:
    """Feed read models from Kafka: one consumer for all the projections fed."""
    from consumers.projector import run_projectors
    from projections.catalog import PROJECTIONS

    chosen = [_projection(name) for name in dict.fromkeys(names or PROJECTIONS)]
    settings = _kafka_settings()
    url = prepare_database(settings)
    stopping = stop_on_signals()
    pool = open_pool(url, 1, "projector")  # one thread feeds every projection
    try:
        run_projectors(settings, pool, chosen, stopping)
    except Exception as error:  # noqa: BLE001 - shown, then a failing exit status
        console.print(f"[red]projector stopped:[/red] {error_summary(error)}", soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        pool.close()


@app.command()
def replay(
    name: Annotated[str, typer.Argument(help="the projection, e.g. customer_360")],
    until: Annotated[
        str | None,
        typer.Option(
            help="build it as of this recorded time (RFC 3339; UTC if no offset) into a table"
            " of its own, without touching the live one"
        ),
    ] = None,
) -> None:
    """Rebuild a projection from the event store into a new table, then swap it in."""
    from projections.rebuild import build_as_of, rebuild

    chosen = _projection(name)
    as_of = _time(until) if until else None
    container = bootstrap(Settings())
    recorder = container.store.recorder
    try:
        with Progress(*PROGRESS_COLUMNS, console=console) as progress:
            task = progress.add_task(f"rebuilding {name}", total=recorder.max_notification_id())

            def advance(reached: int, head: int) -> None:
                progress.update(task, completed=reached, total=head)

            with container.pool.connection() as conn:
                if as_of:
                    table = build_as_of(conn, chosen, as_of, advance)
                else:
                    position = rebuild(conn, chosen, advance)
    finally:
        container.close()
    if as_of:
        console.print(f"{name} as of {as_of.isoformat()} is in table {table}.", soft_wrap=True)
    else:
        console.print(f"{name} rebuilt up to position {position} and swapped in.")


def _projection(name: str) -> "Projection":
    from projections.catalog import PROJECTIONS

    if name not in PROJECTIONS:
        raise typer.BadParameter(f"unknown projection {name!r}; known: {', '.join(PROJECTIONS)}")
    return PROJECTIONS[name]


def _kafka_settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level)
    if not settings.kafka_bootstrap:
        raise typer.BadParameter("set CRM_KAFKA_BOOTSTRAP to the Kafka brokers (host:port,...)")
    return settings


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an RFC 3339 time", param_hint="--until"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main() -> None:
    """The `crm` command. A refusal to start on a database (another master key, a store
    to migrate first) is one line saying what to do, not a traceback."""
    try:
        app()
    except (MasterKeyMismatch, StoreNotSealed) as refusal:
        console.print(f"[red]{refusal}[/red]")
        raise SystemExit(1) from None
