"""The sales pipeline: the open stages a deal moves through, in order, with win probabilities.

There is one pipeline, with a well-known id. Until it is first configured, the default
stages apply. The closed stages, won (100 %) and lost (0 %), are fixed: they are reached
only by winning or losing a deal.
"""

from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.values import Meta, Value

PIPELINE_ID = UUID("5d1c3f0e-2a4b-4c6d-8e9f-0a1b2c3d4e5f")
WON, LOST = "won", "lost"
CLOSED = (WON, LOST)


class Stage(Value):
    """A stage and the chance, in percent, that a deal in it is won."""

    name: str
    probability: int


class Stages(Value):
    """A pipeline configuration: its open stages, in order."""

    open_stages: tuple[Stage, ...]

    def open_stage(self, name: str) -> Stage | None:
        """The open stage called `name`, or None (won and lost are not open)."""
        return next((s for s in self.open_stages if s.name == name), None)

    def all_stages(self) -> tuple[Stage, ...]:
        """The open stages, then won and lost."""
        return (*self.open_stages, WON_STAGE, LOST_STAGE)


WON_STAGE = Stage(name=WON, probability=100)
LOST_STAGE = Stage(name=LOST, probability=0)
"""The closed stages: a won deal is certain, a lost one hopeless."""

DEFAULT_STAGES = Stages(
    open_stages=(
        Stage(name="prospecting", probability=10),
        Stage(name="qualification", probability=20),
        Stage(name="proposal", probability=50),
        Stage(name="negotiation", probability=80),
    )
)


class Pipeline(Aggregate):
    """The stage configuration deals are checked against."""

    id: UUID

    @classmethod
    def start(cls, meta: Meta) -> "Pipeline":
        """The pipeline, with the default stages (before its first configuration)."""
        return cls(id=PIPELINE_ID, meta=meta)

    @event("Created")
    def __init__(self, meta: Meta) -> None:
        self.stages = DEFAULT_STAGES

    def configure(self, stages: tuple[Stage, ...], meta: Meta) -> None:
        """Sets the open stages; records nothing when they are the current ones."""
        if stages != self.stages.open_stages:
            self._configure(stages, meta)

    @event("StagesConfigured")
    def _configure(self, stages: tuple[Stage, ...], meta: Meta) -> None:
        self.stages = Stages(open_stages=stages)


def stages_of(pipeline: Aggregate | None) -> Stages:
    """The stages deals are checked against: the pipeline's, else (before its first
    configuration, when there is no pipeline yet) the default ones."""
    return pipeline.stages if isinstance(pipeline, Pipeline) else DEFAULT_STAGES
