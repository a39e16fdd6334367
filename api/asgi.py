"""The ASGI entry point of each API worker process (`crm serve` starts them)."""

import sys

from fastapi import FastAPI

from api.app import create_app
from infra.bootstrap import bootstrap
from infra.logging import configure_logging
from infra.settings import Settings

SWITCH_INTERVAL_SECONDS = 0.0005
"""The command writer thread waits on PostgreSQL, then needs the interpreter back from the
busy HTTP loop; a shorter switch interval than the default 5 ms shortens that wait."""


def create() -> FastAPI:
    """Builds this worker's app: its own command writer and connection pools."""
    settings = Settings()
    configure_logging(settings.log_level)
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    return create_app(bootstrap(settings))
