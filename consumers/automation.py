"""The `crm automate` process: the process managers that turn events into actions (the
campaign sender, lead engagement), each following the event store from its own recorded
position, and the SLA breach recorder, which follows the clock in a thread of its own (a
campaign being sent, or waiting out an SMTP outage, holds no breach back). One process
works at a time (`infra.leadership`); others wait as standbys."""

import threading
from collections.abc import Callable
from functools import partial

import structlog

from consumers.campaign_email import Tracking, tracking_for
from consumers.campaign_sender import RETRY_SECONDS, CampaignSender, Stopped, render_limits
from consumers.lead_engagement import LeadEngagement
from consumers.notifications import follow
from consumers.parts import WriteSide
from consumers.sla_breaches import EVERY_SECONDS, SlaBreachRecorder
from domain.template_limits import Limits
from infra import tracking
from infra.leadership import StillLeading, lead
from infra.mailer import Mailer, parse_smtp_url
from infra.postgres import UNREACHABLE
from infra.settings import Settings

log = structlog.get_logger()

AUTOMATION_LOCK = 7_401_314  # advisory lock id: the active `crm automate` holds it
TICK_SECONDS = 1.0
"""How often the breach recorder's thread asks whether a look is due."""


def run_automation(
    container: WriteSide, settings: Settings, keep_going: Callable[[], bool]
) -> None:
    """Runs the process managers while this process is the active one, until told to stop,
    starting again from what they recorded after any database outage. Closes the container."""
    container.start()
    mailer = Mailer(parse_smtp_url(settings.smtp_url or ""))
    try:
        lead(
            container.url,
            AUTOMATION_LOCK,
            "automation",
            keep_going,
            partial(_automate, container, mailer, settings),
        )
    finally:
        mailer.close()
        container.close()


def _automate(
    container: WriteSide, mailer: Mailer, settings: Settings, still_leading: StillLeading
) -> None:
    with container.pool.connection() as conn:
        secret = tracking.tracking_secret(conn, settings)
    tracking_ = tracking_for(settings, secret)
    channel = container.store.recorder.channel_name  # type: ignore[attr-defined]
    done = threading.Event()
    recording = threading.Thread(
        target=_record_breaches, args=(container, still_leading, done), name="sla-breaches"
    )
    recording.start()
    try:
        limits = render_limits(settings)
        _follow_events(container, mailer, tracking_, channel, still_leading, limits)
    finally:
        done.set()
        recording.join()


def _follow_events(
    container: WriteSide,
    mailer: Mailer,
    tracking_: Tracking,
    channel: str,
    still_leading: StillLeading,
    limits: Limits,
) -> None:
    """The process managers that follow the event store, started again after an outage."""
    while still_leading():
        try:
            sender = CampaignSender(container, mailer, tracking_, still_leading, limits=limits)
            engagement = LeadEngagement(container)
            log.info(
                "automation following the event store",
                campaign_sender=sender.position,
                lead_engagement=engagement.position,
            )
            follow(
                container.url,
                channel,
                _all(engagement.step, sender.step),
                still_leading,
            )
        except Stopped:
            log.info("automation stopped; it resumes from what it recorded")
        except UNREACHABLE as error:
            log.warning("automation starts again from its records", error=error)
            threading.Event().wait(RETRY_SECONDS)
            container.pool.check()


def _record_breaches(
    container: WriteSide, still_leading: StillLeading, done: threading.Event
) -> None:
    """The breach recorder's loop: a look when one is due (`SlaBreachRecorder.step`), asked
    every TICK_SECONDS until the term ends. A look that fails is tried again: a tick later
    after a database outage, a full interval later after anything else (logged)."""
    recorder = SlaBreachRecorder(container)
    while still_leading() and not done.is_set():
        pause = TICK_SECONDS
        try:
            recorder.step()
        except UNREACHABLE as error:
            log.warning("sla breach recorder: database unreachable", error=error)
        except Exception:
            log.exception("sla breach recorder failed; it looks again later")
            pause = EVERY_SECONDS
        done.wait(pause)


def _all(*steps: Callable[[], bool]) -> Callable[[], bool]:
    """One step of each follower; True if any has more to do."""
    return lambda: any([step() for step in steps])
