"""Laws of a lead's life: random qualifications, disqualifications, conversions and
engagements, sent through the handlers as the command bus sends them, against a small model
of the rules (converted is final; only a qualified lead converts); the stored score is
always the score function's; replaying the stored events always gives the live state; and
the leads read model folded from them agrees with the aggregate on what both hold."""

from uuid import uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from commands.base import Command
from commands.leads import ConvertLead, DisqualifyLead, QualifyLead, RecordLeadEngagement
from domain.errors import CrmError
from domain.lead import LeadStatus
from domain.lead_scoring import (
    AttributeRule,
    EngagementKind,
    EngagementRule,
    LeadScoring,
    ScoringRules,
    score,
)
from projections.leads.evolve import evolve
from tests.strategies import words
from tests.unit.builders import META
from tests.unit.lead_builders import capture, send
from tests.unit.recorded import ReadModel, replayed, state

rule_sets = st.tuples(  # attribute rules, engagement rules
    st.lists(
        st.builds(
            AttributeRule,
            name=words,
            attribute=st.sampled_from(["size", "source", "country"]),
            points=st.integers(-20, 20),
            min=st.one_of(st.none(), st.decimals(0, 100, places=1)),
            equals=st.sampled_from(["fr", "webinar", None]),
        ),
        max_size=3,
    ).map(tuple),
    st.lists(
        st.builds(
            EngagementRule,
            name=words,
            kind=st.sampled_from(EngagementKind),
            points=st.integers(-5, 5),
            max_points=st.one_of(st.none(), st.integers(0, 12)),
        ),
        max_size=2,
    ).map(tuple),
)


class LeadLife(RuleBasedStateMachine):
    """One lead, and the scoring rules in force, changed at random; each rule sends a
    command and checks it was recorded or refused."""

    def __init__(self) -> None:
        super().__init__()
        self.lead, _ = capture(source="webinar", attributes={"size": 42, "country": "FR"})
        self.events = self.lead.collect_events()
        self.leads = ReadModel(evolve)
        self.leads.feed(self.events)
        self.status = LeadStatus.NEW
        self.scoring = LeadScoring.start(META)
        self.rules = ScoringRules()

    def send(self, command: Command, refused: bool) -> None:
        version = self.lead.version
        try:
            send(command, self.lead, self.scoring)
        except CrmError as error:
            assert refused, f"{command!r} was refused: {error.rule}"
            assert self.lead.version == version
        else:
            assert not refused, f"{command!r} was accepted"
        new = self.lead.collect_events()
        self.events += new
        self.leads.feed(new)

    @rule()
    def qualify(self) -> None:
        self.send(QualifyLead(), self.status == LeadStatus.CONVERTED)
        if self.status != LeadStatus.CONVERTED:
            self.status = LeadStatus.QUALIFIED

    @rule(reason=words)
    def disqualify(self, reason: str) -> None:
        self.send(DisqualifyLead(reason=reason), self.status == LeadStatus.CONVERTED)
        if self.status != LeadStatus.CONVERTED:
            self.status = LeadStatus.DISQUALIFIED

    @rule(link=st.booleans())
    def convert(self, link: bool) -> None:
        command = ConvertLead(customer_id=uuid4() if link else None)
        self.send(command, self.status != LeadStatus.QUALIFIED)
        if self.status == LeadStatus.QUALIFIED:
            self.status = LeadStatus.CONVERTED

    @rule(kind=st.sampled_from(EngagementKind), rules=rule_sets)
    def engage(self, kind: EngagementKind, rules: tuple[tuple, tuple]) -> None:
        """The rules are changed (maybe to the same), then the lead engages."""
        self.scoring.set_rules(*rules, META)
        refused = self.status == LeadStatus.CONVERTED
        self.send(RecordLeadEngagement(kind=kind), refused)
        if not refused:
            self.rules = self.scoring.rules

    @invariant()
    def status_is_the_models(self) -> None:
        assert self.lead.status == self.status
        assert (self.lead.customer_id is not None) == (self.status == LeadStatus.CONVERTED)

    @invariant()
    def the_score_is_the_score_functions(self) -> None:
        assert self.lead.score == score(self.rules, self.lead.facts, self.lead.engagement)

    @invariant()
    def replaying_the_stored_events_gives_the_live_state(self) -> None:
        again = replayed(self.events)
        assert state(again) == state(self.lead)
        assert again.version == self.lead.version == len(self.events)

    @invariant()
    def the_read_model_agrees_with_the_aggregate(self) -> None:
        row, lead = self.leads.row, self.lead
        shared = ("status", "owner_id", "engagement", "disqualified_reason", "company", "source")
        assert {name: row[name] for name in shared} == {n: getattr(lead, n) for n in shared}
        assert (row["name"], row["email"]) == (lead.personal.name, lead.personal.email)
        assert (row["attributes"], row["score"]) == (lead.attributes, lead.score.points)
        assert row["score_rules_version"] == lead.score.rules_version
        assert row["customer_id"] == (str(lead.customer_id) if lead.customer_id else None)


LeadLife.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_lead_life = LeadLife.TestCase
