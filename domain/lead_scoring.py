"""Lead scoring: rules that give points for a lead's attributes and engagement, the pure
function that scores a lead by them (with the points of every rule), and the aggregate
that holds the rules in force.

There is one set of rules, with a well-known id; until it is first set, no rule applies
and every lead scores 0. Each change of the rules is numbered (`ScoringRules.version`), so
that a lead's score names the rules that gave it.
"""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.values import CustomValue, Meta, Value

LEAD_SCORING_ID = UUID("7b0e6c2a-3f1d-4e8b-9c5a-1d2e3f4a5b6c")


class EngagementKind(StrEnum):
    """What a lead did with an email we sent."""

    EMAIL_OPENED = "email_opened"
    EMAIL_CLICKED = "email_clicked"


class AttributeRule(Value):
    """Points for a lead whose attribute (or `source`, `company`) matches: equals a value,
    is one of several, or is a number within [min, max]. Text compares case-insensitively."""

    name: str
    attribute: str
    points: int
    equals: CustomValue = None
    one_of: tuple[CustomValue, ...] = ()
    min: Decimal | None = None
    max: Decimal | None = None

    def matches(self, value: CustomValue) -> bool:
        """Whether a lead's value of the attribute meets this rule."""
        if value is None:
            return False
        if self.min is not None or self.max is not None:
            number = _number(value)
            return (
                number is not None
                and (self.min is None or number >= self.min)
                and (self.max is None or number <= self.max)
            )
        if self.one_of:
            return any(_same(value, option) for option in self.one_of)
        return _same(value, self.equals)


MAX_ENGAGEMENT_POINTS = 1_000_000
"""The most points (or fewest, negated) an engagement rule gives, `max_points` or not: a
score (at most 200 attribute rules of 1,000 points and 20 engagement rules) then fits the
leads read model's `int` however many emails a lead opens."""


class EngagementRule(Value):
    """Points for each engagement of a kind, up to `max_points` in all (if set), and within
    +-MAX_ENGAGEMENT_POINTS."""

    name: str
    kind: EngagementKind
    points: int
    max_points: int | None = None

    def points_for(self, count: int) -> int:
        """The points `count` engagements of this rule's kind give."""
        earned = count * self.points
        capped = earned if self.max_points is None else min(earned, self.max_points)
        return max(-MAX_ENGAGEMENT_POINTS, min(capped, MAX_ENGAGEMENT_POINTS))


class ScoringRules(Value):
    """The rules leads are scored by; `version` numbers each change (0: never set)."""

    version: int = 0
    attribute_rules: tuple[AttributeRule, ...] = ()
    engagement_rules: tuple[EngagementRule, ...] = ()


class ScoreLine(Value):
    """How many points one rule gave."""

    rule: str
    points: int


class Score(Value):
    """A lead's score, explained: the rules that gave points, in rule order."""

    points: int = 0
    rules_version: int = 0
    explanation: tuple[ScoreLine, ...] = ()


def score(
    rules: ScoringRules, facts: Mapping[str, CustomValue], engagement: Mapping[str, int]
) -> Score:
    """A lead's score by `rules`, from its facts (attributes, source, company) and its
    engagement counts by kind. Pure: the same input always gives the same score."""
    lines = [
        ScoreLine(rule=rule.name, points=rule.points)
        for rule in rules.attribute_rules
        if rule.matches(facts.get(rule.attribute))
    ]
    lines += [
        ScoreLine(rule=rule.name, points=rule.points_for(engagement.get(rule.kind, 0)))
        for rule in rules.engagement_rules
    ]
    shown = tuple(line for line in lines if line.points)
    return Score(
        points=sum(line.points for line in shown), rules_version=rules.version, explanation=shown
    )


def _same(value: CustomValue, expected: CustomValue) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    if isinstance(value, str) and isinstance(expected, str):
        return value.casefold() == expected.casefold()
    return value == expected


def _number(value: CustomValue) -> Decimal | None:
    """A number, or text that is one (web forms send "250"); None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


class LeadScoring(Aggregate):
    """The scoring rules in force, changed by administrators (each change is audited)."""

    id: UUID

    @classmethod
    def start(cls, meta: Meta) -> "LeadScoring":
        """Lead scoring before its first rules: no rule applies."""
        return cls(id=LEAD_SCORING_ID, meta=meta)

    @event("Started")
    def __init__(self, meta: Meta) -> None:
        self.rules = ScoringRules()

    def set_rules(
        self,
        attribute_rules: tuple[AttributeRule, ...],
        engagement_rules: tuple[EngagementRule, ...],
        meta: Meta,
    ) -> None:
        """Puts new rules in force; records nothing when they are the current ones."""
        current = (self.rules.attribute_rules, self.rules.engagement_rules)
        if (attribute_rules, engagement_rules) != current:
            self._set_rules(attribute_rules, engagement_rules, meta)

    @event("RulesSet")
    def _set_rules(
        self,
        attribute_rules: tuple[AttributeRule, ...],
        engagement_rules: tuple[EngagementRule, ...],
        meta: Meta,
    ) -> None:
        self.rules = ScoringRules(
            version=self.rules.version + 1,
            attribute_rules=attribute_rules,
            engagement_rules=engagement_rules,
        )
