"""Handlers of deal commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O."""

from uuid import UUID

from commands.deals import (
    ChangeDealAmount,
    ConfigureStages,
    LoseDeal,
    MoveDeal,
    OpenDeal,
    ReopenDeal,
    WinDeal,
)
from commands.registry import Answer, handles
from domain.deal import Deal
from domain.pipeline import Pipeline, Stage
from domain.values import Meta


@handles(OpenDeal, Deal)
def open_deal(command: OpenDeal, _: None, deal_id: UUID, meta: Meta) -> tuple[Deal, Answer]:
    deal = Deal.open(
        deal_id,
        customer_id=command.customer_id,
        title=command.title,
        amount=command.amount,
        currency=str(command.currency),
        stage=command.stage,
        expected_close_date=command.expected_close_date,
        owner=command.owner,
        stages=command.pipeline,
        meta=meta,
    )
    return deal, {}


@handles(MoveDeal, Deal)
def move_deal(command: MoveDeal, deal: Deal, _: UUID, meta: Meta) -> tuple[Deal, Answer]:
    deal.move_to(command.stage, command.pipeline, meta)
    return deal, {}


@handles(ChangeDealAmount, Deal)
def change_deal_amount(
    command: ChangeDealAmount, deal: Deal, _: UUID, meta: Meta
) -> tuple[Deal, Answer]:
    deal.change_amount(command.amount, str(command.currency or deal.currency), meta)
    return deal, {}


@handles(WinDeal, Deal)
def win_deal(_: WinDeal, deal: Deal, __: UUID, meta: Meta) -> tuple[Deal, Answer]:
    deal.win(meta)
    return deal, {}


@handles(LoseDeal, Deal)
def lose_deal(command: LoseDeal, deal: Deal, _: UUID, meta: Meta) -> tuple[Deal, Answer]:
    deal.lose(command.reason, meta)
    return deal, {}


@handles(ReopenDeal, Deal)
def reopen_deal(command: ReopenDeal, deal: Deal, _: UUID, meta: Meta) -> tuple[Deal, Answer]:
    deal.reopen(command.stage, command.pipeline, meta)
    return deal, {}


@handles(ConfigureStages, Pipeline)
def configure_stages(
    command: ConfigureStages, pipeline: Pipeline | None, _: UUID, meta: Meta
) -> tuple[Pipeline, Answer]:
    pipeline = pipeline or Pipeline.start(meta)
    pipeline.configure(tuple(Stage(**s.model_dump()) for s in command.stages), meta)
    return pipeline, {}
