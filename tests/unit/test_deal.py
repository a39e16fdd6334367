"""Deal and pipeline rules, without I/O."""

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from commands.base import Command
from commands.deals import (
    ChangeDealAmount,
    ConfigureStages,
    LoseDeal,
    MoveDeal,
    OpenDeal,
    ReopenDeal,
    WinDeal,
)
from domain.customer import Customer
from domain.deal import Deal, DealClosed, DealNotClosed, UnknownStage
from domain.pipeline import DEFAULT_STAGES, PIPELINE_ID, Pipeline, Stage, Stages, stages_of
from domain.values import Meta
from projections.deals.evolve import evolve
from tests.unit.builders import META
from tests.unit.handling import handle
from tests.unit.recorded import folded

CUSTOM = Stages(open_stages=(Stage(name="lead", probability=5), Stage(name="demo", probability=40)))


def at(hours: int) -> Meta:
    """Metadata of something that happened `hours` after META's time."""
    return META.model_copy(update={"occurred_at": META.occurred_at + timedelta(hours=hours)})


def opened_deal(
    stage: str = "prospecting", stages: Stages = DEFAULT_STAGES, customer_id: UUID | None = None
) -> Deal:
    """A deal of 1000 EUR just opened, its creation event pending."""
    return Deal.open(
        uuid4(),
        customer_id=customer_id or uuid4(),
        title="Tea subscription",
        amount=Decimal("1000.00"),
        currency="EUR",
        stage=stage,
        expected_close_date=None,
        owner="jane",
        stages=stages,
        meta=META,
    )


def deal(stage: str = "prospecting", stages: Stages = DEFAULT_STAGES) -> Deal:
    """An open deal of 1000 EUR, its creation event already collected."""
    opened = opened_deal(stage, stages)
    opened.collect_events()
    return opened


def shown(deal: Deal) -> dict:
    """The deal as its read model shows it, folded from every event it recorded (none of
    which is collected yet)."""
    return folded(evolve, deal.collect_events())


def won_deal() -> Deal:
    closed = deal()
    closed.win(at(1))
    closed.collect_events()
    return closed


def test_opening_records_the_stage_its_probability_and_the_customer() -> None:
    # Given / When
    customer_id = uuid4()
    opened = opened_deal("proposal", customer_id=customer_id)
    # Then
    (event,) = opened.collect_events()
    assert type(event).__qualname__ == "Deal.Opened"
    assert (event.customer_id, event.stage, event.probability) == (customer_id, "proposal", 50)
    probability = folded(evolve, [event])["probability"]
    assert (opened.stage, probability, opened.closed) == ("proposal", 50, False)


@pytest.mark.parametrize(
    ("stage", "probability"),
    [("prospecting", 10), ("qualification", 20), ("proposal", 50), ("negotiation", 80)],
)
def test_default_open_stages_have_the_documented_probabilities(stage, probability) -> None:
    assert shown(opened_deal(stage))["probability"] == probability


@pytest.mark.parametrize("stage", ["closing", "won", "lost"])
def test_opening_in_a_stage_that_is_not_open_is_refused_naming_stage(stage) -> None:
    with pytest.raises(UnknownStage) as refused:
        deal(stage)
    assert refused.value.field == "stage"
    assert stage in refused.value.detail


def test_a_move_records_from_where_to_where_with_the_new_probability() -> None:
    # Given
    moving = opened_deal("prospecting")
    # When
    moving.move_to("negotiation", DEFAULT_STAGES, at(2))
    # Then
    opening, event = moving.collect_events()
    assert type(event).__qualname__ == "Deal.StageMoved"
    assert (event.from_stage, event.stage, event.probability) == ("prospecting", "negotiation", 80)
    history = folded(evolve, [opening, event])["stage_history"]
    assert [(e["stage"], e["entered_at"]) for e in history] == [
        ("prospecting", META.occurred_at.isoformat()),
        ("negotiation", at(2).occurred_at.isoformat()),
    ]


def test_an_open_deal_may_go_back_to_an_earlier_stage() -> None:
    moving = opened_deal("proposal")
    moving.move_to("prospecting", DEFAULT_STAGES, META)
    assert (moving.stage, shown(moving)["probability"]) == ("prospecting", 10)


def test_moving_to_the_current_stage_records_nothing() -> None:
    moving = deal("proposal")
    moving.move_to("proposal", DEFAULT_STAGES, META)
    assert moving.collect_events() == []


@pytest.mark.parametrize("stage", ["closing", "won", "lost"])
def test_moving_to_a_stage_that_is_not_open_is_refused_and_records_nothing(stage) -> None:
    moving = deal()
    with pytest.raises(UnknownStage):
        moving.move_to(stage, DEFAULT_STAGES, META)
    assert moving.collect_events() == []
    assert moving.stage == "prospecting"


def test_winning_closes_the_deal_at_100_percent() -> None:
    # Given
    winning = opened_deal("negotiation")
    # When
    winning.win(at(3))
    # Then
    opening, event = winning.collect_events()
    assert type(event).__qualname__ == "Deal.Won"
    assert event.from_stage == "negotiation"
    probability = folded(evolve, [opening, event])["probability"]
    assert (winning.stage, probability, winning.closed) == ("won", 100, True)


def test_losing_closes_the_deal_at_0_percent_with_its_reason() -> None:
    losing = opened_deal("proposal")
    losing.lose("Chose a competitor", at(3))
    opening, event = losing.collect_events()
    assert (event.from_stage, event.reason) == ("proposal", "Chose a competitor")
    row = folded(evolve, [opening, event])
    assert (losing.stage, row["probability"], row["lost_reason"]) == (
        "lost",
        0,
        "Chose a competitor",
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.move_to("proposal", DEFAULT_STAGES, META),
        lambda d: d.change_amount(Decimal(5), "EUR", META),
        lambda d: d.win(META),
        lambda d: d.lose("late", META),
    ],
    ids=["move", "amount", "win", "lose"],
)
def test_a_closed_deal_refuses_every_change_but_reopening(change) -> None:
    # Given
    closed = won_deal()
    # When / Then
    with pytest.raises(DealClosed) as refused:
        change(closed)
    assert refused.value.rule == "deal-closed"
    assert closed.collect_events() == []
    assert closed.stage == "won"


def test_a_lost_deal_refuses_moves_too() -> None:
    lost = deal()
    lost.lose("budget", META)
    with pytest.raises(DealClosed):
        lost.move_to("proposal", DEFAULT_STAGES, META)


def test_reopening_goes_back_to_an_open_stage_and_forgets_the_lost_reason() -> None:
    # Given
    lost = opened_deal("proposal")
    lost.lose("budget", at(1))
    before = lost.collect_events()
    # When
    lost.reopen("qualification", DEFAULT_STAGES, at(2))
    # Then
    (event,) = lost.collect_events()
    assert type(event).__qualname__ == "Deal.Reopened"
    assert (event.from_stage, event.stage, event.probability) == ("lost", "qualification", 20)
    row = folded(evolve, [*before, event])
    assert (lost.stage, lost.closed, row["lost_reason"]) == ("qualification", False, None)
    assert [e["stage"] for e in row["stage_history"]] == ["proposal", "lost", "qualification"]


def test_only_a_closed_deal_reopens() -> None:
    opened = deal()
    with pytest.raises(DealNotClosed) as refused:
        opened.reopen("proposal", DEFAULT_STAGES, META)
    assert refused.value.rule == "deal-not-closed"
    assert opened.collect_events() == []


def test_reopening_in_a_stage_that_is_not_open_is_refused() -> None:
    closed = won_deal()
    with pytest.raises(UnknownStage):
        closed.reopen("won", DEFAULT_STAGES, META)
    assert closed.collect_events() == []


def test_an_amount_change_records_the_old_and_new_amount() -> None:
    # Given
    priced = deal()
    # When
    priced.change_amount(Decimal("1500.00"), "USD", META)
    # Then
    (event,) = priced.collect_events()
    assert (event.old_amount, event.old_currency) == (Decimal("1000.00"), "EUR")
    assert (event.amount, event.currency) == (Decimal("1500.00"), "USD")
    assert (priced.amount, priced.currency) == (Decimal("1500.00"), "USD")


def test_the_same_amount_written_differently_records_nothing() -> None:
    priced = deal()
    priced.change_amount(Decimal("1000"), "EUR", META)
    assert priced.collect_events() == []


def test_configured_stages_decide_what_a_deal_accepts() -> None:
    # Given a deal in a configured pipeline without the default stages
    custom = opened_deal("lead", CUSTOM)
    # When it moves to a configured stage
    custom.move_to("demo", CUSTOM, META)
    # Then its probability is the configured one, and a default stage is unknown
    assert (custom.stage, shown(custom)["probability"]) == ("demo", 40)
    with pytest.raises(UnknownStage):
        custom.move_to("proposal", CUSTOM, META)


def test_a_deal_keeps_the_probability_it_entered_its_stage_with() -> None:
    # Given a deal in "demo" at 40 %
    custom = opened_deal("demo", CUSTOM)
    (opening,) = custom.collect_events()
    # When "demo" is reconfigured at 60 % and the deal stays there
    reweighted = Stages(open_stages=(Stage(name="demo", probability=60),))
    custom.move_to("demo", reweighted, META)
    # Then nothing is recorded and its forecast is unchanged
    assert custom.collect_events() == []
    assert folded(evolve, [opening])["probability"] == 40


def test_a_copy_of_a_deal_changes_apart_from_the_original() -> None:
    original = deal()
    copied = original.__deepcopy__({})
    copied.move_to("proposal", DEFAULT_STAGES, META)
    assert (original.stage, original.version) == ("prospecting", 1)


def test_the_pipeline_starts_with_the_default_stages() -> None:
    pipeline = Pipeline.start(META)
    assert pipeline.id == PIPELINE_ID
    assert pipeline.stages == DEFAULT_STAGES


def test_configuring_the_stages_records_them_and_the_same_again_records_nothing() -> None:
    # Given
    pipeline = Pipeline.start(META)
    pipeline.collect_events()
    # When
    pipeline.configure(CUSTOM.open_stages, META)
    pipeline.configure(CUSTOM.open_stages, META)
    # Then
    (event,) = pipeline.collect_events()
    assert type(event).__qualname__ == "Pipeline.StagesConfigured"
    assert pipeline.stages == CUSTOM


def test_the_first_configuration_starts_the_pipeline() -> None:
    command = ConfigureStages(stages=[{"name": "Demo ", "probability": 30}])
    pipeline = handle(command, target_id=PIPELINE_ID).aggregate
    assert [type(e).__qualname__ for e in pipeline.collect_events()] == [
        "Pipeline.Created",
        "Pipeline.StagesConfigured",
    ]
    assert pipeline.stages.open_stages == (Stage(name="demo", probability=30),)


@pytest.mark.parametrize(
    "stages",
    [
        [],
        [{"name": "won", "probability": 100}],
        [{"name": "demo", "probability": 10}, {"name": "Demo", "probability": 20}],
        [{"name": "demo", "probability": 101}],
        [{"name": "demo", "probability": -1}],
        [{"name": "two words", "probability": 10}],
    ],
    ids=["none", "closed", "twice", "over-100", "negative", "not-a-name"],
)
def test_a_stage_configuration_must_be_distinct_open_stages_with_percentages(stages) -> None:
    with pytest.raises(ValidationError) as invalid:
        ConfigureStages(stages=stages)
    assert invalid.value.errors()[0]["loc"][0] == "stages"


def test_a_stage_named_in_a_command_is_normalised_and_the_pipeline_is_not_a_field() -> None:
    command = MoveDeal(stage=" Proposal")
    assert command.stage == "proposal"
    assert "pipeline" not in MoveDeal.model_json_schema()["properties"]
    with pytest.raises(ValidationError):
        MoveDeal(stage="proposal", pipeline={"open_stages": []})


def test_commands_naming_a_stage_consult_the_pipeline_and_opening_requires_the_customer() -> None:
    # Given
    customer_id = uuid4()
    opening = OpenDeal(
        customer_id=customer_id, title="Tea", amount="1", currency="EUR", stage="proposal"
    )
    # Then
    for command in (opening, MoveDeal(stage="proposal"), ReopenDeal(stage="proposal")):
        assert command.consulted() == {PIPELINE_ID: Pipeline}
    assert opening.required() == {customer_id: Customer}
    for command in (WinDeal(), LoseDeal(reason="late"), ChangeDealAmount(amount="2")):
        assert (command.required(), command.consulted()) == ({}, {})


def send(command: Command, deal: Deal | None = None, pipeline: Pipeline | None = None):
    """Runs a command's handler as the writer does, `pipeline` being the stored one, if any."""
    decision = handle(command, deal, *([pipeline] if pipeline is not None else []))
    return decision.aggregate, decision.answer


def configured(stages: Stages) -> Pipeline:
    """A stored pipeline with `stages`."""
    pipeline = Pipeline.start(META)
    pipeline.configure(stages.open_stages, META)
    pipeline.collect_events()
    return pipeline


def test_stages_are_the_pipelines_once_configured_else_the_defaults() -> None:
    assert stages_of(configured(CUSTOM)) == CUSTOM
    assert stages_of(None) == DEFAULT_STAGES


def test_a_deal_opens_in_the_stages_of_the_configured_pipeline_else_the_defaults() -> None:
    # Given
    fields = {"customer_id": uuid4(), "title": "Tea", "amount": "1", "currency": "EUR"}
    # When / Then: "demo" is a configured stage, "proposal" a default one
    opened, _ = send(OpenDeal(**fields, stage="demo"), pipeline=configured(CUSTOM))
    assert (opened.stage, shown(opened)["probability"]) == ("demo", 40)
    with pytest.raises(UnknownStage):
        send(OpenDeal(**fields, stage="proposal"), pipeline=configured(CUSTOM))
    opened, _ = send(OpenDeal(**fields, stage="proposal"))
    assert (opened.stage, shown(opened)["probability"]) == ("proposal", 50)


@pytest.mark.parametrize(
    ("command", "before"),
    [(MoveDeal(stage="demo"), deal("lead", CUSTOM)), (ReopenDeal(stage="demo"), won_deal())],
    ids=["move", "reopen"],
)
def test_moves_and_reopenings_are_checked_against_the_configured_stages(command, before) -> None:
    # Given a configured pipeline with "demo" at 40 %
    pipeline, unchanged = configured(CUSTOM), before.__deepcopy__({})
    # When
    moved, _ = send(command, before, pipeline)
    # Then: "demo" is taken at its probability, and is unknown without the pipeline
    (entered,) = moved.collect_events()
    assert (moved.stage, entered.probability) == ("demo", 40)
    with pytest.raises(UnknownStage):
        send(command, unchanged)


def test_a_later_configuration_changes_the_pipeline_the_first_one_created() -> None:
    # Given a pipeline created by its first configuration
    first = ConfigureStages(stages=[{"name": "demo", "probability": 30}])
    pipeline = handle(first, target_id=PIPELINE_ID).aggregate
    pipeline.collect_events()
    # When another configuration is decided against it
    later = ConfigureStages(stages=[{"name": "trial", "probability": 60}])
    changed = handle(later, pipeline).aggregate
    # Then it is changed, not created again
    assert changed is pipeline
    assert [type(e).__qualname__ for e in changed.collect_events()] == ["Pipeline.StagesConfigured"]
    assert changed.stages.open_stages == (Stage(name="trial", probability=60),)


def test_the_id_of_the_pipeline_is_well_known() -> None:
    assert PIPELINE_ID == UUID("5d1c3f0e-2a4b-4c6d-8e9f-0a1b2c3d4e5f")
