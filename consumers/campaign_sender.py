"""The campaign sender (`crm automate`): a process manager from Campaign.SendRequested events
to emails.

It follows the event store (not Kafka) from its own position (`crm_automation`), woken by
LISTEN/NOTIFY. For each SendRequested it waits until customer_360 has applied the events
before it, then goes through the audience a page at a time, by customer id: renders each
customer's email, records `RecordEmailSend` for the whole page at once (the bus commits them
together), and hands the emails the bus answers `sent` to SMTP with the recorded Message-ID.
After each page it records how far it got, with the counts (`crm_automation_campaigns`); at
the end it records `CompleteCampaign` and then its position.

Crash safety, at least once: after a kill the sender resumes at the first page not recorded
as done. Its customers get their first answers back (nothing is recorded twice), and the
emails of that page that were handed over before the crash go out a second time, with the
same Message-ID (so mail clients and servers can tell the copies). SMTP or PostgreSQL being
away is waited out; no recipient is skipped. A customer whose template fails to render is
not sent anything nor recorded (the domain has no such suppression reason): it is counted in
`render_failed` and logged by customer id. A 5xx refusal is recorded as a bounce.

One sender works at a time (a PostgreSQL advisory lock); others wait as standbys.
"""

import threading
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

import psycopg
import structlog
from eventsourcing.utils import get_topic
from psycopg.rows import dict_row

from commands.campaigns import CompleteCampaign, RecordEmailBounce, RecordEmailSend
from commands.context import CommandContext, Target
from consumers import campaign_email
from consumers.notifications import follow
from domain.campaign import Campaign, CampaignStatus
from domain.email_template import RenderError, customer_fields, render
from infra import tracking
from infra.event_store import EVENTS_TABLE
from infra.mailer import Mailer, Rejected, SmtpUnavailable, build_message, parse_smtp_url
from infra.postgres import UNREACHABLE, hold_advisory_lock
from infra.settings import Settings
from projections.customer_360.queries import matching
from projections.envelope import Envelope, from_stored
from projections.stored_events import STORED_COLUMNS, head

if TYPE_CHECKING:
    from infra.bootstrap import Container

log = structlog.get_logger()

DDL = """
CREATE TABLE IF NOT EXISTS crm_automation (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS crm_automation_campaigns (
    campaign_id uuid PRIMARY KEY,
    after_customer uuid NOT NULL,
    sent integer NOT NULL,
    suppressed integer NOT NULL,
    render_failed integer NOT NULL,
    bounced integer NOT NULL
);
"""
NAME = "campaign-sender"
ACTOR = "crm-automate"
SENDER_LOCK = 7_401_314  # advisory lock id: the active sender holds it
SEND_REQUESTED = get_topic(Campaign.SendRequested)
FIRST = UUID(int=0)
RETRY_SECONDS = 1.0
SAVE_EVERY = 50
ROW_COLUMNS = "customer_id, name, email, phone, external_ref, tags, custom_fields, consent"


class Stopped(Exception):
    """Told to stop in the middle of a campaign: it resumes from its recorded page."""


@dataclass
class Progress:
    """How far a campaign's send got: the last customer id done, and the counts so far."""

    after: UUID = FIRST
    sent: int = 0
    suppressed: int = 0
    render_failed: int = 0
    bounced: int = 0


@dataclass(frozen=True)
class Tracking:
    """What tracked links are made of."""

    public_url: str
    secret: bytes
    sender: str
    domain: str


class CampaignSender:
    """Sends each campaign whose send is requested, once, at least once per recipient."""

    def __init__(
        self,
        container: "Container",
        mailer: Mailer,
        tracking_: Tracking,
        keep_going: Callable[[], bool],
        *,
        page_size: int = 500,
    ) -> None:
        self._store, self._pool, self._bus = container.store, container.pool, container.bus
        self._mailer, self._tracking = mailer, tracking_
        self._keep_going, self._page_size = keep_going, page_size
        self.position = self._load()

    def step(self) -> bool:
        """Sends the campaigns requested since the recorded position; False when none is left."""
        with self._pool.connection() as conn:
            until = head(conn)
            rows = conn.execute(
                f"SELECT {STORED_COLUMNS} FROM {EVENTS_TABLE}"  # noqa: S608
                " WHERE notification_id > %s AND notification_id <= %s AND topic = %s"
                " ORDER BY notification_id LIMIT 1",
                (self.position, until, SEND_REQUESTED),
            ).fetchall()
        if rows:
            requested = from_stored(*rows[0][:4], bytes(rows[0][4]))
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
        progress = self._progress(campaign_id)
        if campaign.status == CampaignStatus.SENT:
            return progress
        self._wait_for_customer_360(requested.position)
        where, params = self._audience(campaign)
        log.info("sending campaign", campaign_id=str(campaign_id), after=str(progress.after))
        while page := self._page(where, params, progress.after):
            self._send_page(campaign, page, progress, requested)
            self._save(campaign_id, progress)
        complete = CompleteCampaign(sent=progress.sent, suppressed=progress.suppressed)
        self._bus.execute(Target(campaign_id), complete, self._context(requested))
        log.info("campaign sent", campaign_id=str(campaign_id), **_counts(progress))
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
        futures = {
            row["customer_id"]: self._bus.submit(
                Target(row["customer_id"]),
                RecordEmailSend(
                    campaign_id=campaign.id,
                    message_id=self._message_id(campaign.id, row["customer_id"]),
                    links=campaign_email.links(email[1]),
                ),
                context,
            )
            for row, email in zip(page, rendered, strict=True)
            if email is not None
        }
        wait(futures.values())
        answers = {i: f.result().body for i, f in futures.items()}  # an outage raises: again
        for done, (row, email) in enumerate(zip(page, rendered, strict=True), 1):
            answer = answers.get(row["customer_id"])
            if answer is None:
                progress.render_failed += 1
            elif answer["outcome"] != "sent":
                progress.suppressed += 1
            else:
                progress.sent += 1
                if not self._deliver(campaign.id, row, *email, answer["message_id"]):  # type: ignore[misc]
                    progress.bounced += 1
                    bounce = RecordEmailBounce(campaign_id=campaign.id, reason="smtp-rejected")
                    self._bus.execute(Target(row["customer_id"]), bounce, context)
            progress.after = row["customer_id"]
            if done % SAVE_EVERY == 0:
                self._save(campaign.id, progress)

    def _render(self, campaign: Campaign, row: dict[str, Any]) -> tuple[str, str] | None:
        fields = customer_fields(**{k: v for k, v in row.items() if k != "customer_id"})
        try:
            return render(campaign.subject, campaign.body_html, fields)
        except RenderError as error:
            log.warning(
                "template did not render; not sent",
                campaign_id=str(campaign.id),
                customer_id=str(row["customer_id"]),
                error=str(error).split(":")[0],  # the error's class: no customer data
            )
            return None

    def _deliver(
        self, campaign_id: UUID, row: dict[str, Any], subject: str, html: str, message_id: str
    ) -> bool:
        """Hands the email over, waiting out SMTP outages; False if it was refused for good."""
        customer_id, t = row["customer_id"], self._tracking
        html = campaign_email.tracked(
            html,
            lambda i: tracking.click_url(
                t.public_url, tracking.sign_click(t.secret, campaign_id, customer_id, i)
            ),
            tracking.open_url(t.public_url, tracking.sign_open(t.secret, campaign_id, customer_id)),
        )
        try:
            message = build_message(
                sender=t.sender,
                to_name=row["name"],
                to_address=row["email"] or "",
                subject=subject,
                html=html,
                text=campaign_email.plain_text(html),
                message_id=message_id,
            )
        except ValueError:  # an address the email package cannot write
            return False
        while True:
            try:
                self._mailer.send(message)
                return True
            except Rejected:
                return False
            except SmtpUnavailable as error:
                log.warning("SMTP unavailable; trying again", error=str(error))
                self._pause()

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

    def _message_id(self, campaign_id: UUID, customer_id: UUID) -> str:
        return f"<{campaign_id}.{customer_id}@{self._tracking.domain}>"

    @staticmethod
    def _context(cause: Envelope) -> CommandContext:
        return CommandContext(
            actor=ACTOR,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            received_at=datetime.now(UTC),
        )

    def _progress(self, campaign_id: UUID) -> Progress:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT after_customer, sent, suppressed, render_failed, bounced"
                " FROM crm_automation_campaigns WHERE campaign_id = %s",
                (campaign_id,),
            ).fetchone()
        return Progress(*row) if row else Progress()

    def _save(self, campaign_id: UUID, progress: Progress) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO crm_automation_campaigns (campaign_id, after_customer, sent,"
                " suppressed, render_failed, bounced) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (campaign_id) DO UPDATE SET after_customer = EXCLUDED.after_customer,"
                " sent = EXCLUDED.sent, suppressed = EXCLUDED.suppressed,"
                " render_failed = EXCLUDED.render_failed, bounced = EXCLUDED.bounced",
                (campaign_id, progress.after, *_counts(progress).values()),
            )

    def _load(self) -> int:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO crm_automation (name) VALUES (%s) ON CONFLICT DO NOTHING", (NAME,)
            )
            return conn.execute(
                "SELECT position FROM crm_automation WHERE name = %s", (NAME,)
            ).fetchone()[0]  # type: ignore[index]

    def _record(self, position: int) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE crm_automation SET position = %s WHERE name = %s", (position, NAME)
            )
        self.position = position


def _counts(progress: Progress) -> dict[str, int]:
    return {
        "sent": progress.sent,
        "suppressed": progress.suppressed,
        "render_failed": progress.render_failed,
        "bounced": progress.bounced,
    }


def tracking_for(settings: Settings, secret: bytes) -> Tracking:
    """Tracked links' base, key, the From address and the Message-ID domain."""
    public_url = settings.public_url or ""
    domain = urlsplit(public_url).hostname or "localhost"
    target = parse_smtp_url(settings.smtp_url or "")
    return Tracking(public_url, secret, target.sender or f"crm@{domain}", domain)


def run_sender(container: "Container", settings: Settings, keep_going: Callable[[], bool]) -> None:
    """The `crm automate` process: sends requested campaigns until told to stop, starting
    again from what it recorded after any database outage. Closes the container."""
    container.start()
    mailer = Mailer(parse_smtp_url(settings.smtp_url or ""))
    try:
        with psycopg.connect(container.url, autocommit=True) as lock:
            if not hold_advisory_lock(lock, SENDER_LOCK, "campaign sender", keep_going):
                return
            with container.pool.connection() as conn:
                secret = tracking.tracking_secret(conn, settings)
            _send_until_stopped(container, mailer, tracking_for(settings, secret), keep_going)
    except Stopped:
        log.info("campaign sender stopped; it resumes from its recorded page")
    finally:
        mailer.close()
        container.close()


def _send_until_stopped(
    container: "Container", mailer: Mailer, tracking_: Tracking, keep_going: Callable[[], bool]
) -> None:
    channel = container.store.recorder.channel_name  # type: ignore[attr-defined]
    while keep_going():
        try:
            sender = CampaignSender(container, mailer, tracking_, keep_going)
            log.info("campaign sender following the event store", after=sender.position)
            follow(container.url, channel, sender.step, keep_going)
        except UNREACHABLE as error:
            log.warning("campaign sender starts again from its records", error=repr(error))
            threading.Event().wait(RETRY_SECONDS)
            container.pool.check()
