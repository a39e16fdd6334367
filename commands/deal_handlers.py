"""Handlers of deal commands (see `commands.handling`).

A command that names a stage is decided against the pipeline the writer gives its handler
(the command's consulted aggregates), else the default stages.
"""

from commands.deals import (
    ChangeDealAmount,
    ConfigureStages,
    LoseDeal,
    MoveDeal,
    OpenDeal,
    ReopenDeal,
    WinDeal,
)
from commands.handling import Decide, Decision
from domain.deal import Deal
from domain.pipeline import PIPELINE_ID, Pipeline, Stage, Stages, stages_of


def _stages(ctx: Decide[Deal]) -> Stages:
    return stages_of(ctx.given.get(PIPELINE_ID))


def open_deal(command: OpenDeal, ctx: Decide[Deal]) -> Decision:
    deal = Deal.open(
        ctx.target_id,
        customer_id=command.customer_id,
        title=command.title,
        amount=command.amount,
        currency=str(command.currency),
        stage=command.stage,
        expected_close_date=command.expected_close_date,
        owner=command.owner,
        stages=_stages(ctx),
        meta=ctx.meta,
    )
    return Decision(deal)


def move_deal(command: MoveDeal, ctx: Decide[Deal]) -> Decision:
    ctx.aggregate.move_to(command.stage, _stages(ctx), ctx.meta)
    return Decision(ctx.aggregate)


def reopen_deal(command: ReopenDeal, ctx: Decide[Deal]) -> Decision:
    ctx.aggregate.reopen(command.stage, _stages(ctx), ctx.meta)
    return Decision(ctx.aggregate)


def change_deal_amount(command: ChangeDealAmount, ctx: Decide[Deal]) -> Decision:
    deal = ctx.aggregate
    deal.change_amount(command.amount, str(command.currency or deal.currency), ctx.meta)
    return Decision(deal)


def win_deal(_: WinDeal, ctx: Decide[Deal]) -> Decision:
    ctx.aggregate.win(ctx.meta)
    return Decision(ctx.aggregate)


def lose_deal(command: LoseDeal, ctx: Decide[Deal]) -> Decision:
    ctx.aggregate.lose(command.reason, ctx.meta)
    return Decision(ctx.aggregate)


def configure_stages(command: ConfigureStages, ctx: Decide[Pipeline]) -> Decision:
    """Creates the pipeline on its first configuration (no current one), else changes it."""
    pipeline = ctx.current or Pipeline.start(ctx.meta)
    pipeline.configure(tuple(Stage(**s.model_dump()) for s in command.stages), ctx.meta)
    return Decision(pipeline)
