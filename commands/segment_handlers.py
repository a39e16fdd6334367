"""Handlers of segment commands (see `commands.handling`)."""

from commands.handling import Decide, Decision
from commands.segments import CriteriaFields, DefineSegment, RedefineSegment
from domain.segment import Criteria, Segment


def _criteria(fields: CriteriaFields) -> Criteria:
    return Criteria.model_validate(fields.model_dump())


def define_segment(command: DefineSegment, ctx: Decide[Segment]) -> Decision:
    criteria = _criteria(command.criteria)
    return Decision(Segment(id=ctx.target_id, name=command.name, criteria=criteria, meta=ctx.meta))


def redefine_segment(command: RedefineSegment, ctx: Decide[Segment]) -> Decision:
    ctx.aggregate.redefine(_criteria(command.criteria), ctx.meta)
    return Decision(ctx.aggregate)
