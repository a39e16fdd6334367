"""`crm import`: bulk imports from files, with progress bars and a summary."""

import time
from pathlib import Path
from typing import Annotated

import typer
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

from api.bootstrap import assemble, prepare_database
from commands.purchase_csv import BadFile, read_rows
from commands.purchase_import import PurchaseImport, Summary, Survey, cached_customers, survey
from infra.logging import configure_logging
from infra.runtime import tune_garbage_collector
from infra.settings import Settings

imports = typer.Typer(help="Import data from files.", no_args_is_help=True)
console = Console()


class RowRate(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} rows/s")


@imports.command("purchases")
def purchases(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the CSV file")
    ],
) -> None:
    """Record the purchases of a CSV file; customers are registered on first sight.

    A header row, then one purchase per row. Columns: customer_ref,
    occurred_at (RFC 3339 with an offset: the business time recorded),
    order_id, total, currency (ISO 4217); optional: quantity and sku (the
    order's one item line), payment_method. A customer_ref that no customer
    holds registers a customer with that external_ref, named after it, at the
    time of its earliest purchase in the file.

    The whole file is checked first: if a row is invalid, nothing is recorded,
    and each fault is shown with its line and column. Running a file again
    records nothing new, also after an interrupted run: an order_id is
    recorded once per customer.
    """
    settings = Settings()
    configure_logging(settings.log_level)
    started = time.perf_counter()
    found = _checked(file)
    cache = cached_customers(found, settings.import_cache_customers)
    container = assemble(settings, prepare_database(settings), cached_aggregates=cache)
    container.start()
    tune_garbage_collector()
    try:
        job = PurchaseImport(container.bus, container.pool, file, found.first_seen)
        with _progress(
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} rows"), RowRate()
        ) as progress:
            task = progress.add_task(f"importing {file.name}", total=found.rows)
            summary = job.run(read_rows(file), lambda n: progress.advance(task, n))
    finally:
        container.close()
    _report(summary, job.correlation_id, time.perf_counter() - started)


def _progress(*columns: ProgressColumn) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        *columns,
        TimeRemainingColumn(),
        console=console,
    )


def _checked(file: Path) -> Survey:
    """The file surveyed under a progress bar; exits if it has an invalid row."""
    try:
        with _progress() as progress:
            task = progress.add_task(f"checking {file.name}", total=file.stat().st_size)
            found = survey(file, lambda read: progress.update(task, completed=read))
            progress.update(task, completed=file.stat().st_size)
    except BadFile as error:
        console.print(f"[red]{file} cannot be imported:[/red] {error}", soft_wrap=True)
        raise typer.Exit(1) from None
    if found.faults:
        _refuse(file, found)
    return found


def _refuse(file: Path, found: Survey) -> None:
    """Shows a file's faults and exits: nothing was recorded."""
    rows = "row" if found.faults == 1 else "rows"
    console.print(
        f"[red]{file} has {found.faults:,} invalid {rows}; nothing was recorded.[/red]",
        soft_wrap=True,
    )
    for error in found.errors:
        console.print(f"  {error}", soft_wrap=True)
    if found.faults > len(found.errors):
        console.print(f"  ... and {found.faults - len(found.errors):,} more")
    console.print("Fix these rows and run the import again.")
    raise typer.Exit(1)


def _report(summary: Summary, correlation_id: str, seconds: float) -> None:
    """Prints what the import did; exits 1 if a row could not be recorded."""
    console.print(
        f"{summary.rows:,} rows; purchases recorded: {summary.recorded:,}, already there:"
        f" {summary.already_there:,}; customers registered: {summary.registered:,}."
        f" Checked and imported in {seconds:.1f} s ({summary.rows / seconds:,.0f} rows/s)."
        f" Correlation id: {correlation_id}",
        soft_wrap=True,
    )
    if summary.failure:
        console.print(
            f"[red]Stopped at {summary.failure}[/red]\nThe rows recorded stay recorded; once"
            " the cause is fixed, run the same file again to record the others (nothing is"
            " recorded twice).",
            soft_wrap=True,
        )
        raise typer.Exit(1)
