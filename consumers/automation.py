"""The `crm automate` process: the process managers that turn events into actions (the
campaign sender, lead engagement), each following the event store from its own recorded
position. One process works at a time (a
PostgreSQL advisory lock); others wait as standbys."""

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg
import structlog

from consumers.campaign_email import Tracking, tracking_for
from consumers.campaign_sender import RETRY_SECONDS, CampaignSender, Stopped
from consumers.lead_engagement import LeadEngagement
from consumers.notifications import follow
from infra import tracking
from infra.mailer import Mailer, parse_smtp_url
from infra.postgres import UNREACHABLE, hold_advisory_lock
from infra.settings import Settings

if TYPE_CHECKING:
    from infra.bootstrap import Container

log = structlog.get_logger()

AUTOMATION_LOCK = 7_401_314  # advisory lock id: the active `crm automate` holds it


def run_automation(
    container: "Container", settings: Settings, keep_going: Callable[[], bool]
) -> None:
    """Runs the process managers until told to stop, starting again from what they recorded
    after any database outage. Closes the container."""
    container.start()
    mailer = Mailer(parse_smtp_url(settings.smtp_url or ""))
    try:
        with psycopg.connect(container.url, autocommit=True) as lock:
            if not hold_advisory_lock(lock, AUTOMATION_LOCK, "automation", keep_going):
                return
            with container.pool.connection() as conn:
                secret = tracking.tracking_secret(conn, settings)
            _follow_until_stopped(container, mailer, tracking_for(settings, secret), keep_going)
    except Stopped:
        log.info("automation stopped; it resumes from what it recorded")
    finally:
        mailer.close()
        container.close()


def _follow_until_stopped(
    container: "Container", mailer: Mailer, tracking_: Tracking, keep_going: Callable[[], bool]
) -> None:
    channel = container.store.recorder.channel_name  # type: ignore[attr-defined]
    while keep_going():
        try:
            sender = CampaignSender(container, mailer, tracking_, keep_going)
            engagement = LeadEngagement(container)
            log.info(
                "automation following the event store",
                campaign_sender=sender.position,
                lead_engagement=engagement.position,
            )
            follow(container.url, channel, _all(engagement.step, sender.step), keep_going)
        except UNREACHABLE as error:
            log.warning("automation starts again from its records", error=repr(error))
            threading.Event().wait(RETRY_SECONDS)
            container.pool.check()


def _all(*steps: Callable[[], bool]) -> Callable[[], bool]:
    """One step of each follower; True if any has more to do."""
    return lambda: any([step() for step in steps])
