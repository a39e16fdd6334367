"""Handlers of deal commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O.

A command that names a stage is decided against the pipeline the writer gives its handler
(`required`, the command's consulted aggregates), else the default stages.
"""

from collections.abc import Callable
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
from domain.aggregate import Aggregate
from domain.deal import Deal
from domain.pipeline import PIPELINE_ID, Pipeline, Stage, Stages, stages_of
from domain.values import Meta

Aggregates = dict[UUID, Aggregate]


@handles(OpenDeal, Deal)
def open_deal(
    command: OpenDeal, _: None, deal_id: UUID, meta: Meta, required: Aggregates
) -> tuple[Deal, Answer]:
    deal = Deal.open(
        deal_id,
        customer_id=command.customer_id,
        title=command.title,
        amount=command.amount,
        currency=str(command.currency),
        stage=command.stage,
        expected_close_date=command.expected_close_date,
        owner=command.owner,
        stages=stages_of(required.get(PIPELINE_ID)),
        meta=meta,
    )
    return deal, {}


def _to_stage(
    change: Callable[[Deal, str, Stages, Meta], None],
) -> Callable[..., tuple[Deal, Answer]]:
    """A handler that makes `change` (a move, a reopening) to the command's stage."""

    def handler(
        command: MoveDeal | ReopenDeal, deal: Deal, _: UUID, meta: Meta, required: Aggregates
    ) -> tuple[Deal, Answer]:
        change(deal, command.stage, stages_of(required.get(PIPELINE_ID)), meta)
        return deal, {}

    return handler


move_deal = handles(MoveDeal, Deal)(_to_stage(Deal.move_to))
reopen_deal = handles(ReopenDeal, Deal)(_to_stage(Deal.reopen))


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


@handles(ConfigureStages, Pipeline)
def configure_stages(
    command: ConfigureStages, pipeline: Pipeline | None, _: UUID, meta: Meta
) -> tuple[Pipeline, Answer]:
    """Creates the pipeline on its first configuration (no `current`), else changes it."""
    if pipeline is None:
        pipeline = Pipeline.start(meta)
    pipeline.configure(tuple(Stage(**s.model_dump()) for s in command.stages), meta)
    return pipeline, {}
