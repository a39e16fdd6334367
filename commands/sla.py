"""The command that sets a priority's SLA policy, validated at the edge (422 names the field:
`business_hours.timezone`, `business_hours.end`, `business_hours.days.0`, ...)."""

from datetime import date, time
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from commands.base import MAX_INT, Command
from domain.business_time import BusinessHours, Weekday
from domain.sla_policy import SlaTerms
from domain.ticket import Priority, SlaTarget

MAX_MINUTES = 366 * 24 * 60
"""A year: the longest target."""

ClockTime = Annotated[
    str, StringConstraints(max_length=5, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
]
"""A wall-clock time, "HH:MM" (00:00 to 23:59)."""
LocalDate = Annotated[
    str,
    StringConstraints(max_length=10, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    AfterValidator(date.fromisoformat),
    PlainSerializer(date.isoformat, return_type=str),
]
"""A calendar date, "YYYY-MM-DD"."""
Minutes = Annotated[int, Strict(), Field(ge=1, le=MAX_MINUTES)]


def _time(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


class BusinessHoursSetting(BaseModel):
    """When the SLA clock runs: from `start` to `end` (wall clock, end excluded) of `days`
    in `timezone` (IANA name), except `holidays` (local dates, YYYY-MM-DD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: ClockTime
    end: ClockTime
    holidays: list[LocalDate] = Field(default=[], max_length=1000)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (an IANA name such as Europe/Paris)"
            ) from None
        return name

    @field_validator("days")
    @classmethod
    def _distinct_days(cls, days: list[Weekday]) -> list[Weekday]:
        if len(set(days)) != len(days):
            raise ValueError("days must be distinct")
        return days

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and _time(end) <= _time(start):
            raise ValueError("must be later than start (windows end the same day)")
        return end

    def hours(self) -> BusinessHours:
        """The business hours these settings describe."""
        return BusinessHours(
            timezone=self.timezone,
            days=tuple(sorted(self.days, key=list(Weekday).index)),
            start=_time(self.start),
            end=_time(self.end),
            holidays=tuple(sorted(set(self.holidays))),
        )


class SetSlaPolicy(Command):
    """Sets the SLA policy of a ticket priority: first-response and resolution targets in
    minutes of business time (`business_hours` null: round the clock). Open tickets of the
    priority are measured against it at once."""

    success_status: ClassVar[int] = 201
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "priority": "high",
                    "first_response_minutes": 60,
                    "resolution_minutes": 480,
                    "business_hours": {
                        "timezone": "Europe/Paris",
                        "days": ["mon", "tue", "wed", "thu", "fri"],
                        "start": "09:00",
                        "end": "18:00",
                        "holidays": ["2026-12-25"],
                    },
                }
            ]
        }
    )

    priority: Priority
    first_response_minutes: Minutes
    resolution_minutes: Minutes
    business_hours: BusinessHoursSetting | None = None

    def terms(self) -> SlaTerms:
        """The policy's terms."""
        return SlaTerms(
            first_response_minutes=self.first_response_minutes,
            resolution_minutes=self.resolution_minutes,
            business_hours=self.business_hours.hours() if self.business_hours else None,
        )


class RecordSlaBreach(Command):
    """Records that a ticket's SLA target was breached, at its due time (`occurred_at`),
    under a policy version: sent by `crm automate`, once per ticket and target."""

    target: SlaTarget
    policy_version: int = Field(ge=1, le=MAX_INT)
    occurred_at: AwareDatetime
