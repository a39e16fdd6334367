"""`crm migrate`: one-off changes of a store written by an older version."""

import psycopg
import typer
from rich.console import Console
from rich.progress import Progress

from api.bootstrap import prepare_database
from api.cli.progress import PROGRESS_COLUMNS
from infra.data_keys import keyring
from infra.personal_data_migration import AuditLogAlreadyBuilt, encrypt_personal_data
from infra.settings import Settings

migrate = typer.Typer(help="Migrate a store written by an older version.", no_args_is_help=True)
console = Console()


@migrate.command("encrypt-personal-data")
def encrypt_personal_data_command() -> None:
    """Encrypt, in place, the personal fields of events stored before they were encrypted
    (run once, with every `crm` process stopped, before the audit log is first built)."""
    url = prepare_database(Settings(), check_sealed=False)
    with psycopg.connect(url, autocommit=True) as conn:
        with Progress(*PROGRESS_COLUMNS, console=console) as progress:
            task = progress.add_task("sealing personal fields", total=None)

            def advance(reached: int, head: int) -> None:
                progress.update(task, completed=reached, total=head)

            try:
                done = encrypt_personal_data(conn, keyring(), advance)
            except AuditLogAlreadyBuilt as error:
                console.print(f"[red]{error}[/red]")
                raise typer.Exit(1) from None
    console.print(
        f"{done.events_sealed:,} of {done.events_read:,} events sealed,"
        f" {done.keys_made:,} data keys made"
    )
