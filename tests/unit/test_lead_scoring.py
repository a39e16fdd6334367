"""Lead scoring: the pure score function, rule by rule, and the rules' aggregate."""

from decimal import Decimal

import pytest

from domain.lead_scoring import (
    AttributeRule,
    EngagementKind,
    EngagementRule,
    LeadScoring,
    ScoreLine,
    ScoringRules,
    score,
)
from tests.unit.builders import META

OPENED, CLICKED = EngagementKind.EMAIL_OPENED, EngagementKind.EMAIL_CLICKED


def rules(*attribute_rules: AttributeRule, engagement: tuple = (), version: int = 3):
    return ScoringRules(
        version=version, attribute_rules=attribute_rules, engagement_rules=engagement
    )


def rule(name: str = "r", attribute: str = "a", points: int = 10, **condition) -> AttributeRule:
    return AttributeRule(name=name, attribute=attribute, points=points, **condition)


def points(rule_: AttributeRule, value) -> int:
    return score(rules(rule_), {"a": value}, {}).points


def test_without_rules_every_lead_scores_zero_with_no_explanation() -> None:
    result = score(ScoringRules(), {"company_size": 5000, "source": "webinar"}, {OPENED: 9})
    assert (result.points, result.rules_version, result.explanation) == (0, 0, ())


@pytest.mark.parametrize(
    ("value", "expected"), [("Webinar", 10), ("webinar", 10), ("web", 0), (None, 0)]
)
def test_equals_compares_text_case_insensitively(value, expected) -> None:
    assert points(rule(equals="WEBINAR"), value) == expected


def test_equals_does_not_confuse_booleans_and_numbers() -> None:
    assert points(rule(equals=True), True) == 10
    assert points(rule(equals=True), 1) == 0
    assert points(rule(equals=1), True) == 0
    assert points(rule(equals=1), 1) == 10


@pytest.mark.parametrize(("value", "expected"), [("fr", 10), ("DE", 10), ("US", 0), (3, 0)])
def test_one_of_matches_any_listed_value(value, expected) -> None:
    assert points(rule(one_of=("FR", "DE")), value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(200, 10), (1000, 10), (199, 0), (1001, 0), (500.5, 10), ("250", 10), (" 250 ", 10),
     ("many", 0), ("NaN", 0), ("Infinity", 0), (True, 0), (None, 0)],
)  # fmt: skip
def test_a_range_includes_its_bounds_and_reads_numbers_given_as_text(value, expected) -> None:
    assert points(rule(min=Decimal(200), max=Decimal(1000)), value) == expected


def test_a_range_may_be_open_on_either_side() -> None:
    assert points(rule(min=Decimal(200)), 10**9) == 10
    assert points(rule(max=Decimal(10)), -5) == 10
    assert points(rule(max=Decimal(10)), 11) == 0


def test_engagement_gives_points_per_open_and_click_up_to_a_cap() -> None:
    given = rules(
        engagement=(
            EngagementRule(name="Opens", kind=OPENED, points=2, max_points=5),
            EngagementRule(name="Clicks", kind=CLICKED, points=7),
        )
    )
    assert score(given, {}, {OPENED: 1}).points == 2
    assert score(given, {}, {OPENED: 4}).points == 5
    assert score(given, {}, {OPENED: 4, CLICKED: 3}).points == 26


def test_an_uncapped_engagement_rule_gives_at_most_a_million_points_either_way() -> None:
    # Given rules of 1,000 points per open and -1,000 per click, without max_points
    given = rules(
        engagement=(
            EngagementRule(name="Opens", kind=OPENED, points=1000),
            EngagementRule(name="Clicks", kind=CLICKED, points=-1000),
        )
    )
    # When a lead opens and clicks three million times (the leads read model keeps an int)
    scored = score(given, {}, {OPENED: 3_000_000, CLICKED: 5_000_000})
    # Then each rule gives at most a million points, or takes a million
    assert [line.points for line in scored.explanation] == [1_000_000, -1_000_000]
    assert score(given, {}, {OPENED: 999}).points == 999_000


def test_the_explanation_names_each_rule_that_gave_points_in_rule_order() -> None:
    given = rules(
        rule("Large company", "company_size", 20, min=Decimal(200)),
        rule("Student", "source", -15, equals="campus fair"),
        rule("EU", "country", 5, one_of=("FR", "DE")),
        engagement=(EngagementRule(name="Clicks", kind=CLICKED, points=4),),
        version=7,
    )
    result = score(given, {"company_size": 800, "country": "US"}, {CLICKED: 2})
    assert result.explanation == (
        ScoreLine(rule="Large company", points=20),
        ScoreLine(rule="Clicks", points=8),
    )
    assert (result.points, result.rules_version) == (28, 7)


def test_negative_points_lower_the_score() -> None:
    given = rules(rule("Competitor", "company", -50, equals="Rival Inc"))
    result = score(given, {"company": "rival inc"}, {})
    assert result.points == -50
    assert result.explanation == (ScoreLine(rule="Competitor", points=-50),)


def test_scoring_is_pure() -> None:
    given = rules(
        rule(min=Decimal(1)), engagement=(EngagementRule(name="o", kind=OPENED, points=1),)
    )
    facts, engagement = {"a": 3}, {OPENED: 2}
    assert score(given, facts, engagement) == score(given, facts, engagement)
    assert (facts, engagement) == ({"a": 3}, {OPENED: 2})


def test_setting_rules_numbers_each_change_and_the_same_rules_record_nothing() -> None:
    # Given lead scoring without rules
    scoring = LeadScoring.start(META)
    assert scoring.rules == ScoringRules()
    # When rules are set twice to the same, then changed
    scoring.set_rules((rule(equals="x"),), (), META)
    scoring.set_rules((rule(equals="x"),), (), META)
    scoring.set_rules((rule(equals="y"),), (), META)
    # Then two changes are recorded, numbered 1 and 2
    events = scoring.collect_events()
    assert [type(e).__qualname__ for e in events] == [
        "LeadScoring.Started",
        "LeadScoring.RulesSet",
        "LeadScoring.RulesSet",
    ]
    assert scoring.rules.version == 2
    assert scoring.rules.attribute_rules == (rule(equals="y"),)
