"""`crm audit`: the verifiable audit log from the command line (docs/audit.md)."""

import json
from pathlib import Path
from typing import Annotated
from uuid import UUID

import psycopg
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rich.console import Console

from api.bootstrap import prepare_database
from consumers.auditor import run_auditor
from infra.audit import bundle, tree_store
from infra.audit.exporting import NothingToExport, export_bundle
from infra.audit.signing import (
    SigningKeyMissing,
    ensure_signing_key,
    key_id,
    load_signing_key,
    parse_public_key,
    public_key_document,
    public_key_text,
    signing_key_path,
)
from infra.audit.verification import verify_store
from infra.logging import configure_logging
from infra.runtime import stop_on_signals
from infra.settings import Settings

audit = typer.Typer(help="The verifiable audit log.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

PublicKeyOption = Annotated[
    str | None,
    typer.Option(
        "--public-key",
        help="the public key (base64 of its 32 bytes, as `crm audit public-key` prints it, PEM,"
        " or a file holding either); unset: the configured signing key's",
    ),
]


@audit.command("run")
def run() -> None:
    """Extend the audit tree as events are committed and sign its heads, until SIGTERM or
    SIGINT (`crm serve` runs this itself; one process signs at a time, others stand by)."""
    settings = Settings()
    configure_logging(settings.log_level)
    key = _signing_key(settings)
    url = prepare_database(settings)
    stopping = stop_on_signals()
    run_auditor(url, key, lambda: not stopping.is_set())


@audit.command("public-key")
def public_key(
    as_json: Annotated[
        bool, typer.Option("--json", help="print {key_id, algorithm, public_key}")
    ] = False,
) -> None:
    """Print the public key that signs the tree heads (base64 of its 32 raw bytes)."""
    key = _signing_key(Settings(), make=False).public_key()
    print(json.dumps(public_key_document(key)) if as_json else public_key_text(key))  # noqa: T201


@audit.command("verify")
def verify(public_key: PublicKeyOption = None) -> None:
    """Recompute every leaf from the stored events and check every signed tree head; exit 1
    naming the first bad position or tree head."""
    settings = Settings()
    key = _public_key(public_key, settings)
    url = prepare_database(settings)
    with psycopg.connect(url) as conn:
        verdict = verify_store(conn, key)
    if not verdict.verified:
        errors.print(f"[red]Not verified:[/red] {verdict.reason}", soft_wrap=True)
        raise typer.Exit(1)
    console.print(
        f"Verified: the {verdict.tree_size} events of the signed tree, and every signed head."
    )


@audit.command("export")
def export(
    customer: Annotated[str, typer.Option(help="the customer's id")],
    output: Annotated[Path, typer.Option(help="the bundle file to write", dir_okay=False)],
) -> None:
    """Write a customer's audit bundle: its events as stored, their inclusion proofs and the
    signed tree head, signed; check it with `crm audit verify-bundle`."""
    try:
        customer_id = UUID(customer)
    except ValueError:
        raise typer.BadParameter("not a customer id", param_hint="--customer") from None
    settings = Settings()
    key = _signing_key(settings, make=False)
    url = prepare_database(settings)
    with psycopg.connect(url) as conn:
        try:
            data = export_bundle(conn, customer_id, key)
        except NothingToExport as error:
            errors.print(f"[red]{error}[/red]", soft_wrap=True)
            raise typer.Exit(1) from None
    output.write_bytes(data)
    console.print(f"Wrote {output}.", soft_wrap=True)


@audit.command("verify-bundle")
def verify_bundle(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the bundle")],
    public_key: Annotated[
        str,
        typer.Option(help="the public key (base64 of its 32 bytes, PEM, or a file holding either)"),
    ],
) -> None:
    """Check a bundle offline, with nothing but the bundle and the public key; exit 1 if it
    does not hold."""
    verdict = bundle.verify(file.read_bytes(), _parsed_key(public_key))
    if not verdict.verified:
        errors.print(f"[red]Not verified:[/red] {verdict.reason}", soft_wrap=True)
        raise typer.Exit(1)
    console.print(
        f"Verified: {verdict.events} events in the signed tree of {verdict.tree_size}.",
        soft_wrap=True,
    )


def signing_key_file(settings: Settings, url: str) -> Path:
    """The signing key's file (made on first use under CRM_DATA_DIR), checked readable and
    the key of the log's latest signed head, if any; exits with status 2 saying why if not."""
    public = key_id(_signing_key(settings).public_key())
    with psycopg.connect(url) as conn:
        head = tree_store.latest_head(conn)
    if head is not None and head.key_id != public:
        errors.print(
            f"[red]The audit log is signed by key {head.key_id}, and {signing_key_path(settings)}"
            f" holds key {public}: set CRM_AUDIT_SIGNING_KEY_FILE to the log's key.[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    return signing_key_path(settings)


def _signing_key(settings: Settings, *, make: bool = True) -> Ed25519PrivateKey:
    """The configured signing key; made on first use under CRM_DATA_DIR if `make`."""
    try:
        return load_signing_key(
            ensure_signing_key(settings) if make else signing_key_path(settings)
        )
    except SigningKeyMissing as error:
        errors.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None


def _public_key(given: str | None, settings: Settings) -> Ed25519PublicKey:
    return _parsed_key(given) if given else _signing_key(settings, make=False).public_key()


def _parsed_key(given: str) -> Ed25519PublicKey:
    path = Path(given)
    text = path.read_text() if len(given) < 4096 and path.is_file() else given
    try:
        return parse_public_key(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--public-key") from None
