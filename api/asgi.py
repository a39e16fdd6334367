"""The ASGI entry point of each API worker process (`crm serve` starts them)."""

from fastapi import FastAPI

from api.app import create_app
from api.bootstrap import prepare_database
from api.writer_process import WriterProcess
from infra.logging import configure_logging
from infra.postgres import open_pool
from infra.runtime import tune_garbage_collector
from infra.settings import Settings


def create() -> FastAPI:
    """Builds this worker's app: its connection pools and its own command writer process."""
    settings = Settings()
    configure_logging(settings.log_level)
    url = prepare_database(settings)
    writer = WriterProcess(settings.model_copy(update={"database_url": url}))
    pool = open_pool(
        url, settings.db_pool_size, "api", checkout_timeout=settings.database_timeout_seconds
    )
    app = create_app(pool, writer, settings)
    tune_garbage_collector()
    return app
