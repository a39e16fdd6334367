"""The Customer aggregate: profile, consent, tags, and every interaction with the company."""

from collections.abc import Hashable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.email_delivery import (
    EmailDelivery,
    EmailNotSent,
    Outcome,
    SuppressionReason,
    UnknownLink,
    machine_open,
    repeated,
)
from domain.errors import CustomerErased, InvalidValue, OrderAlreadyRecorded
from domain.events.payload import blank
from domain.values import (
    Changes,
    Channel,
    CustomValue,
    Direction,
    FeedbackSource,
    Meta,
    Personal,
    Profile,
    PurchaseItem,
)

MAX_CUSTOM_FIELDS = 100
"""The most custom fields a customer holds (changes merge into them: each is bounded)."""
MAX_CONSENTS = 100
"""The most consent answers a customer holds (changes merge into them too)."""


class Customer(Aggregate):
    """A person or company that buys from us. Personal data lives in `personal`.

    It holds what its rules decide on: the profile, custom fields, tags and consent a change
    is compared with, the orders recorded, and each campaign's email with its opens, clicks
    and bounce; its external reference (claimed unique by the writer) and everything logged
    (interactions, feedback, purchases' lines) are in read models."""

    id: UUID

    @classmethod
    def register(
        cls,
        customer_id: UUID,
        *,
        external_ref: str | None,
        personal: Personal,
        profile: Profile,
        tags: tuple[str, ...],
        custom_fields: dict[str, CustomValue],
        consent: dict[str, bool],
        meta: Meta,
    ) -> "Customer":
        """Registers a new customer."""
        return cls(
            id=customer_id,
            external_ref=external_ref,
            personal=personal,
            profile=profile,
            tags=tuple(sorted(set(tags))),
            custom_fields={k: v for k, v in custom_fields.items() if v is not None},
            consent=consent,
            meta=meta,
        )

    @event("Registered")
    def __init__(
        self,
        external_ref: str | None,
        personal: Personal,
        profile: Profile,
        tags: tuple[str, ...],
        custom_fields: dict[str, CustomValue],
        consent: dict[str, bool],
        meta: Meta,
    ) -> None:
        self.personal = personal
        self.profile = profile
        self.tags = set(tags)
        self.custom_fields = dict(custom_fields)
        self.consent = dict(consent)
        self.order_ids: set[str] = set()
        self.emails: dict[UUID, EmailDelivery] = {}
        self.bounced: set[UUID] = set()
        self.last_opens: dict[tuple[UUID, bool], datetime] = {}
        """(campaign, machine open?) -> business time of the latest open recorded."""
        self.last_clicks: dict[tuple[UUID, int], datetime] = {}
        """(campaign, link index) -> business time of the latest click recorded."""
        self.erased = False

    def check_not_erased(self) -> None:
        """Refuses (410) any command on an erased customer, or on what they own (checked by
        the writer for every command, `commands.deciding`)."""
        if self.erased:
            raise CustomerErased(f"customer {self.id} is erased")

    def erase(self, reason: str, meta: Meta) -> None:
        """Erases the customer (GDPR art. 17) for the stated legal `reason` (no personal
        data in it): the writer destroys their data keys in the same transaction. Refuses a
        customer erased already (410)."""
        self.check_not_erased()
        self._erase(reason, meta)

    @event("Erased")
    def _erase(self, reason: str, meta: Meta) -> None:
        # What the aggregate holds of the person reads as blank, as a replay of its events
        # does once their keys are gone.
        self.erased = True
        self.personal = Personal.model_validate(blank(Personal))
        self.profile = Profile.model_validate(blank(Profile))
        self.custom_fields = {}
        self.emails = {c: e.model_copy(update={"links": ()}) for c, e in self.emails.items()}

    def update(
        self,
        *,
        personal: Changes,
        profile: Changes,
        custom_fields: dict[str, CustomValue],
        tags: tuple[str, ...] | None,
        consent: dict[str, bool] | None,
        meta: Meta,
    ) -> None:
        """Changes what differs from the current profile; records nothing when nothing differs.
        Refuses (422) custom fields or consent that would merge into more than a customer
        holds (MAX_CUSTOM_FIELDS, MAX_CONSENTS): a null removes a custom field first."""
        new_personal = Personal.model_validate(self.personal.model_dump() | personal)
        new_profile = Profile.model_validate(self.profile.model_dump() | profile)
        personal_changes = _diff(self.personal, new_personal, personal)
        profile_changes = _diff(self.profile, new_profile, profile)
        field_changes = {k: v for k, v in custom_fields.items() if self.custom_fields.get(k) != v}
        merged = {k: v for k, v in (self.custom_fields | field_changes).items() if v is not None}
        if len(merged) > max(MAX_CUSTOM_FIELDS, len(self.custom_fields)):
            raise InvalidValue(
                "custom_fields", f"a customer holds at most {MAX_CUSTOM_FIELDS} custom fields"
            )
        if len(self.consent | (consent or {})) > max(MAX_CONSENTS, len(self.consent)):
            raise InvalidValue("consent", f"a customer holds at most {MAX_CONSENTS} consents")
        if personal_changes or profile_changes or field_changes:
            self._change_profile(personal_changes, profile_changes, field_changes, meta)
        if tags is not None and set(tags) != self.tags:
            self._change_tags(
                tuple(sorted(set(tags) - self.tags)), tuple(sorted(self.tags - set(tags))), meta
            )
        consent_changes = {k: v for k, v in (consent or {}).items() if self.consent.get(k) != v}
        if consent_changes:
            self._change_consent(consent_changes, meta)

    @event("ProfileChanged")
    def _change_profile(
        self, personal: Changes, profile: Changes, custom_fields: dict[str, CustomValue], meta: Meta
    ) -> None:
        self.personal = Personal.model_validate(self.personal.model_dump() | personal)
        self.profile = Profile.model_validate(self.profile.model_dump() | profile)
        for name, value in custom_fields.items():
            if value is None:
                self.custom_fields.pop(name, None)
            else:
                self.custom_fields[name] = value

    @event("TagsChanged")
    def _change_tags(self, added: tuple[str, ...], removed: tuple[str, ...], meta: Meta) -> None:
        self.tags = (self.tags | set(added)) - set(removed)

    @event("ConsentChanged")
    def _change_consent(self, changes: dict[str, bool], meta: Meta) -> None:
        self.consent.update(changes)

    @event("InteractionLogged")
    def log_interaction(
        self,
        interaction_id: UUID,
        channel: Channel,
        direction: Direction,
        subject: str | None,
        personal: Changes,
        meta: Meta,
    ) -> None:
        """Logs a contact; its free-text notes are personal data."""

    def record_purchase(
        self,
        *,
        order_id: str,
        items: tuple[PurchaseItem, ...],
        total: Decimal,
        currency: str,
        payment_method: str | None,
        meta: Meta,
    ) -> None:
        """Records an order; the same order id is never recorded twice for a customer."""
        if order_id in self.order_ids:
            raise OrderAlreadyRecorded(f"order {order_id!r} is already recorded for this customer")
        self._record_purchase(order_id, items, total, currency, payment_method, meta)

    @event("PurchaseRecorded")
    def _record_purchase(
        self,
        order_id: str,
        items: tuple[PurchaseItem, ...],
        total: Decimal,
        currency: str,
        payment_method: str | None,
        meta: Meta,
    ) -> None:
        self.order_ids.add(order_id)

    @event("FeedbackGiven")
    def give_feedback(
        self,
        feedback_id: UUID,
        rating: int,
        source: FeedbackSource | None,
        personal: Changes,
        meta: Meta,
    ) -> None:
        """Records a rating from 1 to 5; its comment is personal data."""

    def record_email_send(
        self,
        campaign_id: UUID,
        message_id: str,
        links: tuple[str, ...],
        meta: Meta,
        *,
        rendered: bool = True,
    ) -> EmailDelivery:
        """Records that a campaign's email goes to this customer (EmailSent), or that it must
        not (EmailSuppressed: no email marketing consent, no address, or a template that did
        not render for this customer). Once per campaign: a repeat records nothing and
        answers the first outcome."""
        first = self.emails.get(campaign_id)
        if first is not None:
            return first
        if self.consent.get("email_marketing") is not True:
            self._suppress_email(campaign_id, SuppressionReason.NO_CONSENT, meta)
        elif not self.personal.email:
            self._suppress_email(campaign_id, SuppressionReason.NO_EMAIL, meta)
        elif not rendered:
            self._suppress_email(campaign_id, SuppressionReason.RENDER_FAILED, meta)
        else:
            self._send_email(campaign_id, message_id, links, meta)
        return self.emails[campaign_id]

    @event("EmailSent")
    def _send_email(
        self, campaign_id: UUID, message_id: str, links: tuple[str, ...], meta: Meta
    ) -> None:
        self.emails[campaign_id] = EmailDelivery(
            outcome=Outcome.SENT, at=meta.occurred_at, message_id=message_id, links=links
        )

    @event("EmailSuppressed")
    def _suppress_email(self, campaign_id: UUID, reason: SuppressionReason, meta: Meta) -> None:
        self.emails[campaign_id] = EmailDelivery(
            outcome=Outcome.SUPPRESSED, at=meta.occurred_at, reason=reason
        )

    def record_email_open(
        self,
        campaign_id: UUID,
        user_agent: str | None,
        meta: Meta,
        *,
        window: timedelta = timedelta(0),
    ) -> None:
        """Records an open of a campaign's email, flagged as a machine's when it is one. An
        open of the same kind (a person's, or a machine's) less than `window` after the last
        one recorded is a repeat and records nothing: a machine's open never hides a person's.
        A zero window records every open."""
        sent = self._sent(campaign_id)
        why = machine_open(user_agent, sent.at, meta.occurred_at)
        if not repeated(
            self.last_opens.get((campaign_id, why is not None)), meta.occurred_at, window
        ):
            self._open_email(campaign_id, why is not None, why, meta)

    @event("EmailOpened")
    def _open_email(self, campaign_id: UUID, machine: bool, why: str | None, meta: Meta) -> None:
        _keep_latest(self.last_opens, (campaign_id, machine), meta.occurred_at)

    def record_email_click(
        self,
        campaign_id: UUID,
        link_index: int,
        meta: Meta,
        *,
        window: timedelta = timedelta(0),
    ) -> str:
        """Records a click on the link at `link_index` of the email sent; returns its URL. A
        click on the same link less than `window` after the last one recorded is a repeat and
        records nothing (its URL is returned all the same). A zero window records every one."""
        links = self._sent(campaign_id).links
        if not 0 <= link_index < len(links):
            raise UnknownLink(f"the email of campaign {campaign_id} has no link {link_index}")
        if not repeated(self.last_clicks.get((campaign_id, link_index)), meta.occurred_at, window):
            self._click_email(campaign_id, link_index, links[link_index], meta)
        return links[link_index]

    @event("EmailClicked")
    def _click_email(self, campaign_id: UUID, link_index: int, url: str, meta: Meta) -> None:
        _keep_latest(self.last_clicks, (campaign_id, link_index), meta.occurred_at)

    def record_email_bounce(self, campaign_id: UUID, reason: str, meta: Meta) -> None:
        """Records that the email sent bounced; a second bounce records nothing."""
        self._sent(campaign_id)
        if campaign_id not in self.bounced:
            self._bounce_email(campaign_id, reason, meta)

    @event("EmailBounced")
    def _bounce_email(self, campaign_id: UUID, reason: str, meta: Meta) -> None:
        self.bounced.add(campaign_id)

    def _sent(self, campaign_id: UUID) -> EmailDelivery:
        delivery = self.emails.get(campaign_id)
        if delivery is None or delivery.outcome != Outcome.SENT:
            raise EmailNotSent(f"campaign {campaign_id} sent this customer no email")
        return delivery


def _keep_latest(latest: dict[Any, datetime], key: Hashable, at: datetime) -> None:
    """Keeps the later of `at` and the time already kept for `key` (events stored before the
    repeat rule may be out of order; a replay must end where the live aggregate did)."""
    known = latest.get(key)
    latest[key] = at if known is None else max(known, at)


def _diff(old: object, new: object, asked: Changes) -> Changes:
    """The asked fields whose value really changes, in JSON form."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")  # type: ignore[attr-defined]
    return {name: after[name] for name in asked if before[name] != after[name]}
