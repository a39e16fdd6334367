"""`crm keys`: create, list and revoke API keys (only their hashes are stored)."""

import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

import psycopg
import typer
from rich.console import Console

from api.bootstrap import prepare_database
from infra.api_keys import (
    MAX_EXPIRY_DAYS,
    NAME_PATTERN,
    DuplicateKeyName,
    Role,
    create_key,
    list_keys,
    revoke_key,
)
from infra.settings import Settings

keys = typer.Typer(help="Manage API keys.", no_args_is_help=True)
console = Console()


def _name(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(NAME_PATTERN, value):
        raise typer.BadParameter(
            "1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return value


@keys.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="service, analyst, auditor or admin")],
    name: Annotated[
        str | None,
        typer.Option(
            help="unique name, recorded as the actor of events (default: ROLE-N)", callback=_name
        ),
    ] = None,
    expires_in: Annotated[
        int | None,
        typer.Option(help="days until the key stops working", min=1, max=MAX_EXPIRY_DAYS),
    ] = None,
) -> None:
    """Create an API key; it is printed once, as the last word of the last line."""
    url = prepare_database(Settings())
    try:
        with psycopg.connect(url) as conn:
            key, created = create_key(conn, role, name, expires_in)
    except DuplicateKeyName:
        console.print(f"[red]A key named {name} exists already.[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    expiry = f", expiring {_time(created.expires_at)}" if created.expires_at else ""
    console.print(f"Created key {created.id} ({created.role}){expiry}.", soft_wrap=True)
    console.print(f"Created a {created.role} key for {created.name}. Key: {key}", soft_wrap=True)


@keys.command("list")
def keys_list() -> None:
    """Every key: id, name, role, created, last used (to the minute), expiry, revocation;
    never the key itself."""
    url = prepare_database(Settings())
    with psycopg.connect(url) as conn:
        found = list_keys(conn)
    rows: list[tuple[str, ...]] = [
        ("id", "name", "role", "created", "last used", "expires", "revoked")
    ]
    rows += [
        (
            str(key.id),
            key.name,
            key.role.value,
            *map(_time, (key.created_at, key.last_used_at, key.expires_at, key.revoked_at)),
        )
        for key in found
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@keys.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (crm keys list)")],
) -> None:
    """Revoke a key: API processes refuse it within CRM_KEY_CACHE_SECONDS."""
    try:
        parsed = UUID(key_id)
    except ValueError:
        raise typer.BadParameter("not a key id (a UUID, as crm keys list shows)") from None
    url = prepare_database(Settings())
    with psycopg.connect(url) as conn:
        revoked = revoke_key(conn, parsed)
    if revoked is None:
        console.print(f"[red]No key has the id {key_id}.[/red]", soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"Revoked key {revoked.id} ({revoked.name}).", soft_wrap=True)


def _time(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"
