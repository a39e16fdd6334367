"""The `crm` command line."""

import os
import shutil
import tempfile
from typing import Annotated

import psycopg
import typer
import uvicorn
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from infra.api_keys import Role, create_first_admin_key, create_key
from infra.bootstrap import bootstrap, prepare_database
from infra.logging import configure_logging
from infra.postgres import database_url
from infra.settings import Settings

app = typer.Typer(
    help="The CRM event store: API, consumers and maintenance.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold personal data
)
keys = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys, name="keys")
console = Console()


class EventRate(ProgressColumn):
    """Events per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} events/s")


@app.command()
def serve() -> None:
    """Serve the HTTP API; without Kafka, also feed the read models from the event store."""
    from consumers.store_follower import FollowerProcess

    settings = Settings()
    configure_logging(settings.log_level)
    metrics_dir = tempfile.mkdtemp(prefix="crm-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # children count into shared files
    url = database_url(settings)  # starts the embedded PostgreSQL if none is configured
    os.environ["CRM_DATABASE_URL"] = url  # the API worker processes inherit it
    prepare_database(settings.model_copy(update={"database_url": url}))
    with psycopg.connect(url) as conn:
        first_key = create_first_admin_key(conn)
    if first_key:
        console.print("First start: an admin API key was created. It is shown only once.")
        console.print(f"Admin API key: {first_key}", soft_wrap=True)
    follower = None if settings.kafka_bootstrap else FollowerProcess(url, settings.log_level)
    if follower:
        follower.start()
    console.print(f"Serving on http://{settings.host}:{settings.port}", soft_wrap=True)
    try:
        uvicorn.run(
            "api.asgi:create",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
    finally:
        if follower:
            follower.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)


@keys.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="service, analyst, auditor or admin")],
    name: Annotated[
        str | None, typer.Option(help="principal recorded as the actor of events")
    ] = None,
) -> None:
    """Create an API key; it is printed once, as the last word of the last line."""
    url = prepare_database(Settings())
    with psycopg.connect(url) as conn:
        key, principal = create_key(conn, role, name)
    console.print(
        f"Created a {principal.role} key for {principal.name}. Key: {key}", soft_wrap=True
    )


@app.command()
def replay(name: Annotated[str, typer.Argument(help="the projection, e.g. customer_360")]) -> None:
    """Rebuild a projection from the event store into a new table, then swap it in."""
    from projections.catalog import PROJECTIONS
    from projections.rebuild import rebuild

    if name not in PROJECTIONS:
        raise typer.BadParameter(f"unknown projection; known: {', '.join(PROJECTIONS)}")
    container = bootstrap(Settings())
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} events"),
        EventRate(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress, container.pool.connection() as conn:
            head = container.store.recorder.max_notification_id() or 0
            task = progress.add_task(f"rebuilding {name}", total=head)
            position = rebuild(
                conn,
                container.store.recorder,
                PROJECTIONS[name],
                lambda reached, head: progress.update(task, completed=reached, total=head),
            )
    finally:
        container.close()
    console.print(f"{name} rebuilt up to position {position} and swapped in.")
