"""The churn fits and rankings an API process keeps, computed off the request path by one
worker thread (docs/decisions/0015-churn-fits-off-the-request-path.md).

- A fit of a day (`Fit`) is checked against the purchases table (its row count and highest
  position) once it is `refit_seconds` old, and computed again if they changed; readers are
  served the fit kept meanwhile. Only a day never fitted makes its readers wait, for one fit.
- Today's fit is never dropped, and is kept current by a timer even without readers. Just
  after midnight (UTC), until today's first fit is ready, answers for "now" come from
  yesterday's fit as of yesterday's last instant.
- A ranking (the churn list's order) is kept per instant, and for "now" renewed once it is
  `refit_seconds` old or its fit was replaced.
"""

import math
import threading
import time as clock
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg import Connection
from psycopg_pool import ConnectionPool

from domain.churn.histories import utc_day
from domain.churn.model import NotEnoughPurchases
from infra.metrics import KEPT_CHURN_FITS
from infra.settings import Settings
from projections.churn.buyers import Buyers, read_buyers
from projections.churn.kept import Compute, Kept
from projections.churn.ranking import Ranking, rank

log = structlog.get_logger()
T = TypeVar("T")
DAY = timedelta(days=1)
NOW = "now"
"""The key of the ranking of the current instant."""
CONTENTS = "SELECT count(*), coalesce(max(last_position), 0) FROM purchases"
SHORTEST_CHECK_SECONDS = 1.0
"""The timer checks today's fit at most this often (with CRM_CHURN_REFIT_SECONDS=0 too)."""


@dataclass(frozen=True, eq=False)
class Fit:
    """A day's buyers (or why no model fits) as computed from the purchases table with
    `contents` (its row count and highest position)."""

    contents: tuple[int, int]
    found: Buyers | str

    def buyers(self) -> Buyers:
        """The buyers; NotEnoughPurchases if no model fits."""
        if isinstance(self.found, str):
            raise NotEnoughPurchases(self.found)
        return self.found


class ChurnModels:
    """The fits and rankings of the database `connect` opens (for the worker alone)."""

    def __init__(
        self,
        connect: Callable[[], Connection[Any]],
        refit_seconds: float,
        kept_fits: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._connect, self._refit_seconds, self._now = connect, refit_seconds, now
        self._conn: Connection[Any] | None = None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="churn-fits")
        self._stopping = threading.Event()
        self._timer = threading.Thread(target=self._keep_today, name="churn-timer", daemon=True)
        submit = self._worker.submit
        self._fits = Kept[date, Fit](
            submit, clock.monotonic, kept_fits, self._is_today, KEPT_CHURN_FITS.set
        )
        self._rankings = Kept[Hashable, Ranking](
            submit, clock.monotonic, kept_fits, lambda key: key == NOW
        )

    def start(self) -> None:
        """Starts keeping today's fit current (its first fit begins now)."""
        self._timer.start()

    def stop(self) -> None:
        """Stops the timer and the worker (a fit under way is finished; those waiting are
        cancelled), and closes the worker's connection."""
        self._stopping.set()
        if self._timer.is_alive():
            self._timer.join()
        self._worker.shutdown(wait=True, cancel_futures=True)
        if self._conn is not None:
            self._conn.close()

    def fit(self, day: date) -> Buyers:
        """The buyers of `day`, as kept (NotEnoughPurchases if no model fits)."""
        return self._fits.get(day, self._refit(day), self._refit_seconds).buyers()

    def current(self) -> tuple[Buyers, datetime]:
        """The buyers for answers as of now, and the instant the answers are as of: now with
        today's fit, or, while today's first fit is under way, yesterday's last instant
        with yesterday's fit if it is kept."""
        now = self._now()
        today = now.date()
        earlier = self._fits.peek(today - DAY)
        if self._fits.peek(today) is None and earlier is not None:
            self._fits.prefetch(today, self._refit(today))
            return earlier.buyers(), datetime.combine(today - DAY, time.max, UTC)
        return self.fit(today), now

    def ranking(self, at: datetime | None) -> Ranking:
        """The buyers ranked as of `at` (None: now, renewed every `refit_seconds`)."""
        key: Hashable
        if at is None:
            (found, moment), key, fresh_for = self.current(), NOW, self._refit_seconds
        else:
            found, moment, key, fresh_for = self.fit(utc_day(at)), at, at, math.inf

        def ranked(_: Ranking | None) -> Ranking:
            return self._on_worker(lambda conn: rank(conn, found, moment))

        return self._rankings.get(key, ranked, fresh_for, lambda kept: kept.buyers is found)

    def _refit(self, day: date) -> Compute[Fit]:
        def refit(kept: Fit | None) -> Fit:
            return self._on_worker(lambda conn: _refitted(conn, day, kept))

        return refit

    def _is_today(self, day: date) -> bool:
        return day == self._now().date()

    def _keep_today(self) -> None:
        """Asks for today's fit every `refit_seconds` (a day's first fit included)."""
        period = max(self._refit_seconds, SHORTEST_CHECK_SECONDS)
        while True:
            try:
                self.fit(self._now().date())
            except NotEnoughPurchases:
                pass
            except Exception as error:  # noqa: BLE001 - logged; the next round tries again
                log.warning("churn fit of today failed", error=repr(error))
            if self._stopping.wait(period):
                return

    def _on_worker(self, work: Callable[[Connection[Any]], T]) -> T:
        """Runs `work` on the worker's connection (opened again after it broke)."""
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        try:
            return work(self._conn)
        except Exception as error:
            log.warning("churn computation failed", error=repr(error))
            if isinstance(error, psycopg.OperationalError):
                self._conn.close()
            raise


def churn_models(pool: ConnectionPool, settings: Settings) -> ChurnModels:
    """The churn models of `pool`'s database, as `settings` say."""

    def connect() -> Connection[Any]:
        conninfo = pool.conninfo
        return psycopg.connect(conninfo() if callable(conninfo) else conninfo, autocommit=True)

    return ChurnModels(
        connect,
        settings.churn_refit_seconds,
        settings.churn_kept_fits,
    )


def _refitted(conn: Connection[Any], day: date, kept: Fit | None) -> Fit:
    """`kept` if the purchases table has not changed since, else the day's fit afresh."""
    contents: tuple[int, int] = conn.execute(CONTENTS).fetchone()  # type: ignore[assignment]
    if kept is not None and kept.contents == contents:
        return kept
    try:
        return Fit(contents, read_buyers(conn, day))
    except NotEnoughPurchases as refused:
        return Fit(contents, refused.detail)
