"""A deal under any sequence of moves, amount changes, wins, losses, reopenings and stage
reconfigurations: its rules hold, replaying its stored events gives the same state, and the
deals read model folded from them shows the expected stages and agrees with the aggregate."""

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.deal import Deal, DealClosed, DealNotClosed, UnknownStage, deal_status
from domain.errors import CrmError
from domain.pipeline import CLOSED, DEFAULT_STAGES, LOST, WON, Stage, Stages
from domain.values import Meta
from projections.deals.evolve import evolve
from tests.unit.builders import META
from tests.unit.recorded import ReadModel, replayed, state

OPEN_NAMES = ["prospecting", "qualification", "proposal", "negotiation", "demo", "lead"]
stage_names = st.sampled_from([*OPEN_NAMES, WON, LOST, "nowhere"])
configurations = st.lists(
    st.builds(Stage, name=st.sampled_from(OPEN_NAMES), probability=st.integers(0, 100)),
    min_size=1,
    max_size=5,
    unique_by=lambda s: s.name,
).map(lambda stages: Stages(open_stages=tuple(stages)))
amounts = st.decimals(min_value=0, max_value=10_000, places=2)
currencies = st.sampled_from(["EUR", "USD"])


class DealLife(RuleBasedStateMachine):
    """The Deal aggregate beside a plain model of what it should be."""

    @initialize(stage=st.sampled_from([s.name for s in DEFAULT_STAGES.open_stages]))
    def open(self, stage: str) -> None:
        self.stages, self.hour, self.recorded = DEFAULT_STAGES, 0, []
        self.deals = ReadModel(evolve)
        self.deal = Deal.open(
            uuid4(),
            customer_id=uuid4(),
            title="Deal",
            amount=Decimal(100),
            currency="EUR",
            stage=stage,
            expected_close_date=None,
            owner=None,
            stages=self.stages,
            meta=self._meta(),
        )
        self.expected = [self._entry(stage, self.stages.open_stage(stage).probability)]
        self._collect()

    @rule(stages=configurations)
    def reconfigure(self, stages: Stages) -> None:
        self.stages = stages

    @rule(stage=stage_names)
    def move(self, stage: str) -> None:
        target = self.stages.open_stage(stage)
        refusal = UnknownStage if target is None else DealClosed if self._closed() else None
        moved = target is not None and refusal is None and stage != self.deal.stage
        self._attempt(lambda m: self.deal.move_to(stage, self.stages, m), refusal, moved)
        if moved:
            self.expected.append(self._entry(stage, target.probability))

    @rule(amount=amounts, currency=currencies)
    def change_amount(self, amount: Decimal, currency: str) -> None:
        before = (self.deal.amount, self.deal.currency)
        changed = not self._closed() and before != (amount, currency)
        refusal = DealClosed if self._closed() else None
        self._attempt(lambda m: self.deal.change_amount(amount, currency, m), refusal, changed)
        expected = (amount, currency) if changed else before
        assert (self.deal.amount, self.deal.currency) == expected

    @rule()
    def win(self) -> None:
        refusal = DealClosed if self._closed() else None
        self._attempt(self.deal.win, refusal, refusal is None)
        if refusal is None:
            self.expected.append(self._entry(WON, 100))

    @rule(reason=st.sampled_from(["price", "timing", "competitor"]))
    def lose(self, reason: str) -> None:
        refusal = DealClosed if self._closed() else None
        self._attempt(lambda m: self.deal.lose(reason, m), refusal, refusal is None)
        if refusal is None:
            self.expected.append(self._entry(LOST, 0))
            assert self._row()["lost_reason"] == reason

    @rule(stage=stage_names)
    def reopen(self, stage: str) -> None:
        target = self.stages.open_stage(stage)
        refusal = UnknownStage if target is None else None if self._closed() else DealNotClosed
        self._attempt(lambda m: self.deal.reopen(stage, self.stages, m), refusal, refusal is None)
        if refusal is None:
            self.expected.append(self._entry(stage, target.probability))
            assert self._row()["lost_reason"] is None

    @invariant()
    def history_is_ordered_complete_and_as_expected(self) -> None:
        history = [
            (stay["stage"], stay["probability"], datetime.fromisoformat(stay["entered_at"]))
            for stay in self._row()["stage_history"]
        ]
        assert history == self.expected
        assert [at for *_, at in history] == sorted(at for *_, at in history)
        assert len(history) == len([e for e in self.recorded if hasattr(e, "from_stage")]) + 1

    @invariant()
    def the_stage_is_a_known_one_at_its_probability(self) -> None:
        known = {s.name for s in self.stages.all_stages()} | {e[0] for e in self.expected}
        probability = self._row()["probability"]
        assert self.deal.stage in known
        assert probability == self.expected[-1][1]
        assert self.deal.closed == (self.deal.stage in CLOSED)
        if self.deal.stage in CLOSED:
            assert probability == (100 if self.deal.stage == WON else 0)

    @invariant()
    def replaying_the_stored_events_gives_the_same_state(self) -> None:
        again = replayed(self.recorded)
        assert state(again) == state(self.deal)
        assert again.version == self.deal.version == len(self.recorded)

    @invariant()
    def the_read_model_agrees_with_the_aggregate(self) -> None:
        row, deal = self._row(), self.deal
        shared = (row["customer_id"], row["stage"], row["amount"], row["currency"])
        assert shared == (str(deal.customer_id), deal.stage, deal.amount, deal.currency)
        assert row["status"] == deal_status(deal.stage)
        assert (row["closed_at"] is not None) == deal.closed

    def _attempt(self, change, refusal: type[CrmError] | None, records: bool) -> None:
        """Makes `change`; checks it is refused with `refusal` (recording nothing), or records
        one event if `records`, else nothing."""
        try:
            change(self._meta())
        except CrmError as error:
            assert type(error) is refusal, f"{type(error).__name__} instead of {refusal}"
            assert self._collect() == []
            return
        assert refusal is None, f"expected {refusal.__name__}"
        assert len(self._collect()) == (1 if records else 0)

    def _closed(self) -> bool:
        return self.expected[-1][0] in CLOSED

    def _entry(self, stage: str, probability: int) -> tuple[str, int, datetime]:
        return stage, probability, self.now

    def _row(self) -> dict:
        """The deal as its read model shows it, folded from the events recorded."""
        return self.deals.row

    def _meta(self) -> Meta:
        self.hour += 1
        self.now = META.occurred_at + timedelta(hours=self.hour)
        return META.model_copy(update={"occurred_at": self.now})

    def _collect(self) -> list:
        events = self.deal.collect_events()
        self.recorded.extend(events)
        self.deals.feed(events)
        return events


DealLife.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_deal_life = DealLife.TestCase
