"""The Deal aggregate: a sales opportunity with a customer, moving through the pipeline's stages.

An open deal may move from any open stage to any other; it is closed only by winning or
losing it, and a closed deal changes no more until it is reopened. Each stage entry records
the stage's win probability at that time, so that a later configuration change does not
rewrite what was forecast. The aggregate holds what its rules decide on (its stage, amount
and currency); what is shown (title, owner, the stages it went through) is in read models.
"""

from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import CustomerOwned
from domain.errors import CrmError, InvalidValue
from domain.pipeline import CLOSED, LOST, WON, Stage, Stages
from domain.values import Meta


class UnknownStage(InvalidValue):
    """The stage is not one of the pipeline's open stages (422 naming `stage`)."""

    def __init__(self, detail: str) -> None:
        super().__init__("stage", detail)
        self.args = (detail,)  # rebuilt from its arguments in the API (commands.wire)


class DealClosed(CrmError):
    """The deal is won or lost: it must be reopened before it changes."""

    rule = "deal-closed"


class DealNotClosed(CrmError):
    """Only a won or lost deal can be reopened."""

    rule = "deal-not-closed"


OPEN = "open"


def deal_status(stage: str) -> str:
    """A deal's status in `stage`: won or lost once closed there, else open."""
    return stage if stage in CLOSED else OPEN


class Deal(CustomerOwned):
    """A sale being negotiated with a customer: its stage and amount."""

    id: UUID

    @classmethod
    def open(
        cls,
        deal_id: UUID,
        *,
        customer_id: UUID,
        title: str,
        amount: Decimal,
        currency: str,
        stage: str,
        expected_close_date: date | None,
        owner: str | None,
        stages: Stages,
        meta: Meta,
    ) -> "Deal":
        """Opens a deal in one of the open `stages` of the pipeline."""
        entered = _open_stage(stages, stage)
        return cls(
            id=deal_id,
            customer_id=customer_id,
            title=title,
            amount=amount,
            currency=currency,
            stage=entered.name,
            probability=entered.probability,
            expected_close_date=expected_close_date,
            owner=owner,
            meta=meta,
        )

    @event("Opened")
    def __init__(
        self,
        customer_id: UUID,
        title: str,
        amount: Decimal,
        currency: str,
        stage: str,
        probability: int,
        expected_close_date: date | None,
        owner: str | None,
        meta: Meta,
    ) -> None:
        self.customer_id = customer_id
        self.amount = amount
        self.currency = currency
        self.stage = stage

    @property
    def closed(self) -> bool:
        """Whether the deal is won or lost."""
        return deal_status(self.stage) != OPEN

    def move_to(self, stage: str, stages: Stages, meta: Meta) -> None:
        """Moves an open deal to another open stage; to its current stage records nothing."""
        target = _open_stage(stages, stage)
        self._refuse_if_closed(f"moved to {stage!r}")
        if target.name != self.stage:
            self._move(self.stage, target.name, target.probability, meta)

    @event("StageMoved")
    def _move(self, from_stage: str, stage: str, probability: int, meta: Meta) -> None:
        self.stage = stage

    def change_amount(self, amount: Decimal, currency: str, meta: Meta) -> None:
        """Changes an open deal's amount; records nothing when it is the same."""
        self._refuse_if_closed("changed")
        if (amount, currency) != (self.amount, self.currency):
            self._change_amount(self.amount, self.currency, amount, currency, meta)

    @event("AmountChanged")
    def _change_amount(
        self, old_amount: Decimal, old_currency: str, amount: Decimal, currency: str, meta: Meta
    ) -> None:
        self.amount, self.currency = amount, currency

    def win(self, meta: Meta) -> None:
        """Closes an open deal as won."""
        self._refuse_if_closed("won")
        self._win(self.stage, meta)

    @event("Won")
    def _win(self, from_stage: str, meta: Meta) -> None:
        self.stage = WON

    def lose(self, reason: str, meta: Meta) -> None:
        """Closes an open deal as lost, for a reason."""
        self._refuse_if_closed("lost")
        self._lose(self.stage, reason, meta)

    @event("Lost")
    def _lose(self, from_stage: str, reason: str, meta: Meta) -> None:
        self.stage = LOST

    def reopen(self, stage: str, stages: Stages, meta: Meta) -> None:
        """Reopens a won or lost deal in one of the open stages."""
        target = _open_stage(stages, stage)
        if not self.closed:
            raise DealNotClosed(f"the deal is open (in {self.stage!r}); only a closed one reopens")
        self._reopen(self.stage, target.name, target.probability, meta)

    @event("Reopened")
    def _reopen(self, from_stage: str, stage: str, probability: int, meta: Meta) -> None:
        self.stage = stage

    def _refuse_if_closed(self, change: str) -> None:
        if self.closed:
            raise DealClosed(f"the deal is {self.stage}; reopen it before it is {change}")


def _open_stage(stages: Stages, name: str) -> Stage:
    found = stages.open_stage(name)
    if found is None:
        known = ", ".join(s.name for s in stages.open_stages)
        hint = f"; close a deal with /{name}" if name in CLOSED else ""
        raise UnknownStage(f"{name!r} is not an open stage (open stages: {known}){hint}")
    return found
