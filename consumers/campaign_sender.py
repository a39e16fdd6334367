"""The campaign sender: a process manager of `crm automate`, from Campaign.SendRequested
events to emails.

It follows the event store (not Kafka) from its own position (`crm_automation`). For each
SendRequested it waits until customer_360 has applied the events before it, then goes
through the audience a page at a time, by customer id: renders each customer's email,
records `RecordEmailSend` for the whole page at once (the bus commits them together), and
hands the emails the bus answers `sent` to SMTP with the recorded Message-ID. After each
page it records how far it got, with the counts; at the end it records `CompleteCampaign`
and then its position.

Crash safety, at least once: after a kill the sender resumes at the first page not recorded
as done. Its customers get their first answers back (nothing is recorded twice), and the
emails of that page that were handed over before the crash go out a second time, with the
same Message-ID (so mail clients and servers can tell the copies). SMTP or PostgreSQL being
away is waited out; no recipient is skipped. A customer whose template fails to render, or
would take more than the render `Limits` (time, characters, loop iterations: a template
looping on one customer's data), is recorded as suppressed (`render-failed`) and logged by
customer id, without customer data; the campaign goes on with the next customers.
A 5xx refusal is recorded as a bounce.
"""

import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.utils import get_topic
from psycopg.rows import dict_row

from commands.campaigns import CompleteCampaign, RecordEmailBounce, RecordEmailSend
from commands.context import CommandContext, Outcome, Target
from consumers import automation_records as records
from consumers import campaign_email
from consumers.automation_records import Progress
from consumers.campaign_email import Tracking
from consumers.parts import WriteSide
from domain.campaign import Campaign, CampaignStatus
from domain.email_delivery import SuppressionReason
from domain.email_template import RenderError, customer_fields, render
from domain.errors import CustomerErased
from domain.events.envelope import Envelope
from domain.template_limits import DEFAULT_LIMITS, Limits
from infra.mailer import Mailer, Rejected, SmtpUnavailable
from infra.settings import Settings
from infra.stored_events import head, with_topics
from projections.customer_360.queries import matching

log = structlog.get_logger()

NAME = "campaign-sender"
ACTOR = "crm-automate"
SEND_REQUESTED = get_topic(Campaign.SendRequested)
RETRY_SECONDS = 1.0
SAVE_EVERY = 50
ROW_COLUMNS = "customer_id, name, email, phone, external_ref, tags, custom_fields, consent"
UNRENDERED = ("", "")


class Stopped(Exception):
    """Told to stop in the middle of a campaign: it resumes from its recorded page."""


def render_limits(settings: Settings) -> Limits:
    """What rendering one customer's email may take (CRM_TEMPLATE_RENDER_*)."""
    return Limits(
        seconds=settings.template_render_seconds,
        output_chars=settings.template_render_chars,
        loop_iterations=settings.template_render_iterations,
    )


class CampaignSender:
    """Sends each campaign whose send is requested, once, at least once per recipient."""

    def __init__(
        self,
        container: WriteSide,
        mailer: Mailer,
        tracking: Tracking,
        keep_going: Callable[[], bool],
        *,
        page_size: int = 500,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._store, self._pool, self._bus = container.store, container.pool, container.bus
        self._mailer, self._tracking = mailer, tracking
        self._keep_going, self._page_size, self._limits = keep_going, page_size, limits
        self.position = records.position(self._pool, NAME)

    def step(self) -> bool:
        """Sends the campaigns requested since the recorded position; False when none is left."""
        with self._pool.connection() as conn:
            until = head(conn)
            found = with_topics(conn, self.position, until, [SEND_REQUESTED], limit=1)
        if found:
            (requested,) = found
            self.send(requested)
            self._record(requested.position)
            return True
        if until > self.position:
            self._record(until)
        return False

    def send(self, requested: Envelope) -> Progress:
        """Sends one campaign, resuming where a previous run stopped, then completes it."""
        campaign_id = UUID(requested.stream_id)
        campaign: Campaign = self._store.get_many([campaign_id])[campaign_id]
        progress = records.progress(self._pool, campaign_id)
        if campaign.status == CampaignStatus.SENT:
            return progress
        self._wait_for_customer_360(requested.position)
        where, params = self._audience(campaign)
        log.info("sending campaign", campaign_id=str(campaign_id), after=str(progress.after))
        while page := self._page(where, params, progress.after):
            self._send_page(campaign, page, progress, requested)
            records.save_progress(self._pool, campaign_id, progress)
        complete = CompleteCampaign(sent=progress.sent, suppressed=progress.suppressed)
        self._bus.execute(Target(campaign_id), complete, self._context(requested))
        log.info("campaign sent", campaign_id=str(campaign_id), **progress.counts())
        return progress

    def _send_page(
        self, campaign: Campaign, page: list[dict[str, Any]], progress: Progress, cause: Envelope
    ) -> None:
        """Records the page's sends at once, then delivers them in order, recording progress
        every SAVE_EVERY customers (what a crash may send twice)."""
        if not self._keep_going():
            raise Stopped
        context = self._context(cause)
        rendered = [self._render(campaign, row) for row in page]
        futures = [
            self._bus.submit(
                Target(row["customer_id"]),
                RecordEmailSend(
                    campaign_id=campaign.id,
                    message_id=self._tracking.message_id(campaign.id, row["customer_id"]),
                    links=campaign_email.links(email[1]),
                    rendered=email is not UNRENDERED,
                ),
                context,
            )
            for row, email in zip(page, rendered, strict=True)
        ]
        wait(futures)
        answers = [_answer(f) for f in futures]  # an outage raises: the page again
        for done, (row, email, answer) in enumerate(zip(page, rendered, answers, strict=True), 1):
            if answer is None:
                pass  # erased: their row stays in customer_360, blank; nothing goes to them
            elif answer["outcome"] != "sent":
                progress.suppressed += 1
                progress.render_failed += answer["reason"] == SuppressionReason.RENDER_FAILED
            else:
                progress.sent += 1
                if email is UNRENDERED:  # sent by an earlier run; the customer changed since
                    self._bounce(campaign.id, row, "render-failed", progress, context)
                elif not self._deliver(campaign.id, row, *email, answer["message_id"]):
                    self._bounce(campaign.id, row, "smtp-rejected", progress, context)
            progress.after = row["customer_id"]
            if done % SAVE_EVERY == 0:
                records.save_progress(self._pool, campaign.id, progress)

    def _bounce(
        self,
        campaign_id: UUID,
        row: dict[str, Any],
        reason: str,
        progress: Progress,
        context: CommandContext,
    ) -> None:
        progress.bounced += 1
        bounce = RecordEmailBounce(campaign_id=campaign_id, reason=reason)
        self._bus.execute(Target(row["customer_id"]), bounce, context)

    def _render(self, campaign: Campaign, row: dict[str, Any]) -> tuple[str, str]:
        """The customer's subject and HTML body; UNRENDERED if the template fails for them."""
        fields = customer_fields(**{k: v for k, v in row.items() if k != "customer_id"})
        try:
            return render(campaign.subject, campaign.body_html, fields, self._limits)
        except RenderError as error:
            log.warning(
                "template did not render; suppressed",
                campaign_id=str(campaign.id),
                customer_id=str(row["customer_id"]),
                error=str(error).split(":")[0],  # the error's class: no customer data
            )
            return UNRENDERED

    def _deliver(
        self, campaign_id: UUID, row: dict[str, Any], subject: str, html: str, message_id: str
    ) -> bool:
        """Hands the email over, waiting out SMTP outages; False if it was refused for good."""
        message = campaign_email.compose(
            self._tracking, campaign_id, row, subject, html, message_id
        )
        while message is not None:
            try:
                self._mailer.send(message)
                return True
            except Rejected:
                return False
            except SmtpUnavailable as error:
                log.warning("SMTP unavailable; trying again", error=str(error))
                self._pause()
        return False

    def _audience(self, campaign: Campaign) -> tuple[list[str], list[Any]]:
        audience = campaign.audience
        if audience.customer_ids is not None:
            return ["customer_id = ANY(%s)"], [list(audience.customer_ids)]
        if audience.segment_id is not None:
            segment = self._store.get_many([audience.segment_id])[audience.segment_id]
            return matching(segment.criteria)
        return matching(audience.segment)  # type: ignore[arg-type]  # check() makes one given

    def _page(self, where: list[str], params: list[Any], after: UUID) -> list[dict[str, Any]]:
        query = (
            f"SELECT {ROW_COLUMNS} FROM customer_360 WHERE {' AND '.join(where)}"  # noqa: S608
            " AND customer_id > %s ORDER BY customer_id LIMIT %s"
        )
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query, [*params, after, self._page_size]).fetchall()

    def _wait_for_customer_360(self, position: int) -> None:
        """Waits until customer_360 has applied the events up to `position` (fed in-process:
        exactly; through Kafka: its most advanced partition)."""
        query = (
            "SELECT greatest("
            " (SELECT position FROM crm_projections WHERE name = 'customer_360'),"
            " (SELECT max(position) FROM crm_projection_offsets"
            "  WHERE projection = 'customer_360'))"
        )
        while True:
            with self._pool.connection() as conn:
                reached = conn.execute(query).fetchone()[0] or 0  # type: ignore[index]
            if reached >= position:
                return
            log.info("waiting for customer_360", reached=reached, needed=position)
            self._pause()

    def _pause(self) -> None:
        if not self._keep_going():
            raise Stopped
        threading.Event().wait(RETRY_SECONDS)

    @staticmethod
    def _context(cause: Envelope) -> CommandContext:
        return CommandContext(
            actor=ACTOR,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            received_at=datetime.now(UTC),
        )

    def _record(self, position: int) -> None:
        records.record_position(self._pool, NAME, position)
        self.position = position


def _answer(future: Future[Outcome]) -> dict[str, Any] | None:
    """A send's answer; None for a customer erased (410 customer-erased)."""
    try:
        return future.result().body
    except CustomerErased:
        return None
