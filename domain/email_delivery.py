"""What a customer's copy of a campaign email went through, and the rules on its tracking."""

from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import CrmError
from domain.values import Value

PROXY_USER_AGENTS = (
    # Gmail fetches every image through its proxy as soon as the message is shown or scanned:
    # "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)".
    "GoogleImageProxy",
    # Yahoo Mail and AOL Mail: "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html".
    "YahooMailProxy",
)
"""User-agent fragments of mail providers' image proxies (as published in their requests, and
listed by ESPs that classify opens: SocketLabs, SparkPost, Mailgun). Keep this list here only."""

APPLE_PRIVACY_PROXY = "Mozilla/5.0"
"""Apple Mail Privacy Protection prefetches every image through Apple's proxies at delivery, with
this bare user agent and nothing after it (a real browser or mail client always adds its
platform and engine). Matched exactly."""

MACHINE_WINDOW = timedelta(seconds=10)
"""An open this soon after the send is recorded is a machine's. `sent_at` is recorded just
before the SMTP hand-off, so the window covers delivery plus the prefetch that proxies and
security gateways (Apple MPP, Microsoft Defender, Mimecast...) make on arrival; a person needs
to notice, open and render the message, which takes longer. A person who is that quick is
counted in `machine_opened`, not lost."""


class Outcome(StrEnum):
    """Whether a campaign's email went to a customer."""

    SENT = "sent"
    SUPPRESSED = "suppressed"


class SuppressionReason(StrEnum):
    """Why a customer was not sent a campaign's email."""

    NO_CONSENT = "no-consent"
    NO_EMAIL = "no-email"
    RENDER_FAILED = "render-failed"


class EmailDelivery(Value):
    """The first (and only) outcome of a campaign's email for one customer."""

    outcome: Outcome
    at: datetime
    message_id: str | None = None
    links: tuple[str, ...] = ()
    reason: SuppressionReason | None = None


class EmailNotSent(CrmError):
    """The customer was not sent this campaign's email: no open, click or bounce for it."""

    rule = "email-not-sent"


class UnknownLink(CrmError):
    """The email sent to the customer has no link with this index."""

    rule = "unknown-link"


def machine_open(user_agent: str | None, sent_at: datetime, opened_at: datetime) -> str | None:
    """Why an open is a machine's (a proxy's user agent, or too soon after sending), else None."""
    agent = (user_agent or "").strip()
    if agent == APPLE_PRIVACY_PROXY:
        return "apple-mail-privacy-protection"
    for fragment in PROXY_USER_AGENTS:
        if fragment.lower() in agent.lower():
            return f"image-proxy:{fragment}"
    if opened_at - sent_at < MACHINE_WINDOW:
        return f"within-{MACHINE_WINDOW.seconds}s-of-sending"
    return None


def repeated(last: datetime | None, at: datetime, window: timedelta) -> bool:
    """Whether a tracking hit at `at` repeats the same one last recorded at `last` (of the same
    customer, campaign and link, or kind of open): it came less than `window` after it, or
    before it (hits come in order of business time, so an earlier one is a late copy). With
    no hit recorded yet, or a zero window, nothing is a repeat.

    A repeat (a reload, a mail client fetching the pixel on every view, a forwarded copy, a
    script replaying the link) is answered but not recorded, so that replaying a link cannot
    grow a customer's stream: at most one event per window and key, whatever the traffic."""
    return last is not None and window > timedelta(0) and at - last < window
