"""Email campaigns: templates, an audience, and a send that happens once."""

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import CrmError, InvalidValue
from domain.segment import Criteria
from domain.values import Meta, Value

MAX_RECIPIENTS = 1_000_000
"""The most customers a campaign's list may hold (added in parts)."""


class CampaignStatus(StrEnum):
    """Draft until a send is requested; sending while the sender works; sent once it is done."""

    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"


class Audience(Value):
    """Who a campaign goes to: inline criteria, a saved segment, or listed customers (one of).

    Criteria and saved segments are resolved by the sender when it sends, over the customer 360
    read model (a saved segment with the criteria it has then)."""

    segment: Criteria | None = None
    segment_id: UUID | None = None
    customer_ids: tuple[UUID, ...] | None = None

    def check(self) -> None:
        """Refuses an audience given in none or several ways (422 naming `segment`)."""
        given = [v for v in (self.segment, self.segment_id, self.customer_ids) if v is not None]
        if len(given) != 1:
            raise InvalidValue("segment", "give exactly one of segment, segment_id, customer_ids")


class CampaignAlreadySent(CrmError):
    """The campaign's send was requested already: a campaign is sent once."""

    rule = "campaign-already-sent"


class CampaignNotSending(CrmError):
    """The campaign is not being sent (its send was not requested, or it is completed)."""

    rule = "campaign-not-sending"


class Campaign(Aggregate):
    """An email to an audience, rendered per customer from Jinja2 templates. It holds what
    is decided on: its status and audience, and the templates the sender renders (a
    customer whose email does not render is suppressed); its name and counts are shown by
    the campaigns read model."""

    id: UUID

    @classmethod
    def draft(
        cls,
        campaign_id: UUID,
        *,
        name: str,
        subject: str,
        body_html: str,
        audience: Audience,
        meta: Meta,
    ) -> "Campaign":
        """Drafts a campaign; an unclear audience or templates that do not compile are refused
        (422 naming the field)."""
        from domain import email_template  # jinja2: only the processes that draft pay for it

        audience.check()
        email_template.check(subject, body_html)
        return cls(
            id=campaign_id,
            name=name,
            subject=subject,
            body_html=body_html,
            audience=audience,
            meta=meta,
        )

    @event("Drafted")
    def __init__(
        self, name: str, subject: str, body_html: str, audience: Audience, meta: Meta
    ) -> None:
        self.subject = subject
        self.body_html = body_html
        self.audience = audience
        self.status = CampaignStatus.DRAFT

    def add_recipients(self, customer_ids: tuple[UUID, ...], meta: Meta) -> None:
        """Adds listed customers to a draft's audience (an audience of any size is drafted
        in parts); ids it lists already are left out, and nothing new records nothing."""
        if self.status != CampaignStatus.DRAFT:
            raise CampaignAlreadySent(f"campaign {self.id} is {self.status} already")
        listed = self.audience.customer_ids
        if listed is None:
            raise InvalidValue("customer_ids", "the campaign's audience is a segment, not a list")
        known = set(listed)
        new = tuple(i for i in dict.fromkeys(customer_ids) if i not in known)
        if len(listed) + len(new) > MAX_RECIPIENTS:
            raise InvalidValue("customer_ids", f"a list holds at most {MAX_RECIPIENTS} customers")
        if new:
            self._add_recipients(new, meta)

    @event("RecipientsAdded")
    def _add_recipients(self, customer_ids: tuple[UUID, ...], meta: Meta) -> None:
        listed = self.audience.customer_ids or ()
        self.audience = self.audience.model_copy(update={"customer_ids": listed + customer_ids})

    def request_send(self, meta: Meta) -> None:
        """Asks the sender to send it; a campaign is sent once."""
        if self.status != CampaignStatus.DRAFT:
            raise CampaignAlreadySent(f"campaign {self.id} is {self.status} already")
        self._request_send(meta)

    @event("SendRequested")
    def _request_send(self, meta: Meta) -> None:
        self.status = CampaignStatus.SENDING

    def check_sending(self) -> None:
        """Refuses unless the campaign is being sent (emails are recorded only then)."""
        if self.status != CampaignStatus.SENDING:
            raise CampaignNotSending(f"campaign {self.id} is {self.status}, not sending")

    def complete(self, sent: int, suppressed: int, meta: Meta) -> None:
        """Records the end of the send with its counts; once completed, records nothing."""
        if self.status == CampaignStatus.SENT:
            return
        self.check_sending()
        self._complete(sent, suppressed, meta)

    @event("Completed")
    def _complete(self, sent: int, suppressed: int, meta: Meta) -> None:
        self.status = CampaignStatus.SENT
