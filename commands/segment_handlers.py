"""Handlers of segment commands: `(command, aggregate, id, meta) -> (aggregate, answer)`, no I/O."""

from uuid import UUID

from commands.registry import Answer, handles
from commands.segments import CriteriaFields, DefineSegment, RedefineSegment
from domain.segment import Criteria, Segment
from domain.values import Meta


def _criteria(fields: CriteriaFields) -> Criteria:
    return Criteria.model_validate(fields.model_dump())


@handles(DefineSegment, Segment)
def define_segment(
    command: DefineSegment, _: None, segment_id: UUID, meta: Meta
) -> tuple[Segment, Answer]:
    return Segment(
        id=segment_id, name=command.name, criteria=_criteria(command.criteria), meta=meta
    ), {}


@handles(RedefineSegment, Segment)
def redefine_segment(
    command: RedefineSegment, segment: Segment, _: UUID, meta: Meta
) -> tuple[Segment, Answer]:
    segment.redefine(_criteria(command.criteria), meta)
    return segment, {}
