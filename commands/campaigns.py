"""Commands on campaigns, and on the emails a campaign sends to each customer.

The sender (`crm automate`) records, for each customer of a campaign being sent,
`RecordEmailSend` (its answer says whether to send), then `RecordEmailBounce` on a permanent
SMTP failure, and at the end `CompleteCampaign` on the campaign. The tracking routes record
`RecordEmailOpen` and `RecordEmailClick`: a repeat within `dedupe_seconds` of the last one
recorded (CRM_TRACKING_DEDUPE_SECONDS for the routes) is answered but records nothing.
"""

from datetime import timedelta
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints

from commands.base import MAX_INT, Command, Id, LongText, Text
from commands.segments import CriteriaFields
from domain.aggregate import Aggregate
from domain.campaign import Campaign
from domain.segment import Segment

Url = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
UserAgent = Annotated[str, StringConstraints(max_length=500)]
MAX_LISTED_CUSTOMERS = 10_000
MAX_LINKS = 1000
"""The most tracked links of one email."""
MAX_DEDUPE_SECONDS = 366 * 86_400
"""The longest dedupe window of opens and clicks: a year."""


class CreateCampaign(Command):
    """Drafts a campaign: Jinja2 templates (`{{ customer.name }}`...) and one audience: inline
    `segment` criteria, a saved segment's `segment_id`, or `customer_ids`."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Spring sale",
                    "subject": "{{ customer.name }}, spring is here",
                    "body_html": '<p>Hello {{ customer.name | default("friend") }}</p>'
                    '<p><a href="https://shop.example.com/spring">Shop now</a></p>',
                    "segment": {"tag": "vip"},
                }
            ]
        }
    )

    name: Text
    subject: Text
    body_html: LongText
    segment: CriteriaFields | None = None
    segment_id: Id | None = None
    customer_ids: list[Id] | None = Field(
        default=None, min_length=1, max_length=MAX_LISTED_CUSTOMERS
    )

    def required(self) -> dict[UUID, type[Aggregate]]:
        """The saved segment named, if one is."""
        return {self.segment_id: Segment} if self.segment_id else {}


class AddCampaignRecipients(Command):
    """Adds customers to a draft campaign's list, up to MAX_LISTED_CUSTOMERS per request, so
    that a list of any size is sent in parts (a segment is resolved by the sender instead)."""

    customer_ids: list[Id] = Field(min_length=1, max_length=MAX_LISTED_CUSTOMERS)


class RequestCampaignSend(Command):
    """Asks the sender to send a draft campaign (once)."""

    success_status: ClassVar[int] = 202


class CompleteCampaign(Command):
    """The sender's end of a send: how many emails went out, how many were suppressed."""

    sent: int = Field(ge=0, le=MAX_INT)
    suppressed: int = Field(ge=0, le=MAX_INT)


class EmailCommand(Command):
    """A command on a customer about one campaign's email."""

    campaign_id: Id


class RecordEmailSend(EmailCommand):
    """Records the email sent to the customer (`links`: the tracked links' targets, in order),
    or its suppression (no consent, no address, `rendered` false: the template failed for
    this customer). Answers `outcome` ("sent" or "suppressed"), `message_id` and `links` as
    first recorded (a repeat records nothing), or `reason`."""

    message_id: Text
    links: list[Url] = Field(default=[], max_length=MAX_LINKS)
    rendered: bool = True

    def required(self) -> dict[UUID, type[Aggregate]]:
        """The campaign, which must be being sent."""
        return {self.campaign_id: Campaign}


class TrackingCommand(EmailCommand):
    """An open or click: the same one again less than `dedupe_seconds` after the last one
    recorded (in business time) is a repeat and records nothing. The tracking routes give
    CRM_TRACKING_DEDUPE_SECONDS; 0 (other callers, such as imports of past engagement)
    records every one."""

    dedupe_seconds: float = Field(default=0, ge=0, le=MAX_DEDUPE_SECONDS)

    @property
    def dedupe_window(self) -> timedelta:
        return timedelta(seconds=self.dedupe_seconds)


class RecordEmailOpen(TrackingCommand):
    """Records an open of the email (from the tracking pixel); machine opens are flagged, and
    a machine's open is never a repeat of a person's."""

    user_agent: UserAgent | None = None


class RecordEmailClick(TrackingCommand):
    """Records a click on a tracked link; answers the link's `url` (a repeat's too)."""

    link_index: int = Field(ge=0, lt=MAX_LINKS)


class RecordEmailBounce(EmailCommand):
    """Records that the email sent to the customer bounced."""

    reason: Text
