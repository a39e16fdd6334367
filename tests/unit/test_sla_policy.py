"""SLA policies without I/O: the aggregate, its handler, the command's validation and the
`sla_policies` read model's fold."""

from datetime import date, time, timedelta
from functools import reduce
from typing import Any

import pytest
from pydantic import ValidationError

from commands.sla import SetSlaPolicy
from domain.business_time import BusinessHours, Weekday
from domain.events.envelope import Envelope
from domain.sla_policy import SlaPolicy, SlaTerms, policy_id
from domain.ticket import Priority
from projections.sla.policies_evolve import evolve
from tests.unit.builders import META
from tests.unit.handling import handle

OFFICE = {
    "timezone": "Europe/Paris",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "18:00",
    "holidays": ["2026-12-25"],
}
BODY = {"priority": "high", "first_response_minutes": 60, "resolution_minutes": 480}


def names(policy: SlaPolicy) -> list[str]:
    return [type(e).__qualname__ for e in policy.collect_events()]


def test_each_priority_has_its_own_stable_policy_id() -> None:
    ids = {policy_id(p) for p in Priority}
    assert len(ids) == 4
    assert policy_id(Priority.HIGH) == policy_id(Priority("high"))


def test_the_first_command_defines_the_policy_and_each_change_is_a_version() -> None:
    # Given no policy for high tickets yet
    first = SetSlaPolicy.model_validate(BODY)
    policy = handle(first, target_id=policy_id(Priority.HIGH)).aggregate
    assert (policy.id, policy.version, names(policy)) == (
        policy_id(Priority.HIGH), 1, ["SlaPolicy.Defined"],
    )  # fmt: skip
    # When the same terms come again, then other terms
    handle(first, policy)
    assert names(policy) == []
    later = SetSlaPolicy.model_validate(BODY | {"business_hours": OFFICE})
    handle(later, policy)
    # Then only the change is recorded, as version 2
    assert (policy.version, names(policy)) == (2, ["SlaPolicy.Changed"])
    assert policy.terms.business_hours == BusinessHours(
        timezone="Europe/Paris",
        days=(Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI),
        start=time(9),
        end=time(18),
        holidays=(date(2026, 12, 25),),
    )


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ({"timezone": "Mars/Olympus"}, ("business_hours", "timezone")),
        ({"end": "09:00"}, ("business_hours", "end")),
        ({"end": "08:59"}, ("business_hours", "end")),
        ({"days": ["mon", "funday"]}, ("business_hours", "days", 1)),
        ({"days": ["mon", "mon"]}, ("business_hours", "days")),
        ({"days": []}, ("business_hours", "days")),
        ({"start": "9h"}, ("business_hours", "start")),
        ({"holidays": ["2026-02-30"]}, ("business_hours", "holidays", 0)),
        ({"holidays": ["25/12/2026"]}, ("business_hours", "holidays", 0)),
    ],
)
def test_bad_business_hours_are_refused_naming_the_field(hours: dict, field: tuple) -> None:
    with pytest.raises(ValidationError) as refused:
        SetSlaPolicy.model_validate(BODY | {"business_hours": OFFICE | hours})
    assert [e["loc"] for e in refused.value.errors()] == [field]


@pytest.mark.parametrize("minutes", [0, -5, 10**9, "60"])
def test_targets_are_whole_positive_minutes(minutes: Any) -> None:
    with pytest.raises(ValidationError):
        SetSlaPolicy.model_validate(BODY | {"first_response_minutes": minutes})


def terms_event(type_: str, version: int, position: int, **terms: Any) -> Envelope:
    at = META.occurred_at + timedelta(days=version)
    data: dict[str, Any] = {"terms": {"business_hours": None, **terms}}
    if type_ == "SlaPolicy.Defined":
        data["priority"] = "urgent"
    return Envelope(
        type=type_, stream_id="p-1", stream_version=version, position=position,
        customer_id=None, occurred_at=at, recorded_at=at, actor="admin", correlation_id="c",
        causation_id=None, schema_version=1, data=data,
    )  # fmt: skip


def test_the_read_model_keeps_every_version_with_the_time_it_took_effect() -> None:
    defined = terms_event(
        "SlaPolicy.Defined", 1, 7, first_response_minutes=60, resolution_minutes=240
    )
    changed = terms_event(
        "SlaPolicy.Changed", 2, 9, first_response_minutes=30, resolution_minutes=240
    )
    row = reduce(evolve, [defined, changed, changed], None)
    assert row == {
        "id": "p-1", "priority": "urgent", "version": 2, "last_position": 9,
        "versions": [
            {"version": 1, "effective_at": defined.occurred_at.isoformat(),
             "first_response_minutes": 60, "resolution_minutes": 240, "business_hours": None},
            {"version": 2, "effective_at": changed.occurred_at.isoformat(),
             "first_response_minutes": 30, "resolution_minutes": 240, "business_hours": None},
        ],
    }  # fmt: skip
    assert evolve(None, changed) is None
    assert SlaTerms.model_validate(row["versions"][1]).first_response_minutes == 30
