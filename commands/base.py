"""What all commands share: immutability, strict fields, storable text, and business time."""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from domain.aggregate import Aggregate

MAX_CLOCK_SKEW = timedelta(minutes=5)
T = TypeVar("T")

MAX_INT = 2**31 - 1
"""The largest PostgreSQL `int`: counts and versions that read models keep in `int` columns."""
MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader holds exactly (I-JSON, RFC 7493): the bound of the
numbers of custom fields and lead attributes (JSON in events and read models)."""
MAX_CUSTOM_TEXT = 2_000
"""The longest text value of a custom field or lead attribute."""
MAX_ENTRIES = 100
"""The most keys of a map (custom fields, consent, lead attributes) or items of a tag list."""

_BIDI = r"\u202a-\u202e\u2066-\u2069"
"""Bidirectional embeddings, overrides and isolates: they reorder how text is shown."""
NOT_IN_A_LINE = rf"\u0000-\u001f\u007f-\u009f\u2028\u2029{_BIDI}"
"""What one line of text may not hold (a character class's ranges, JSON Schema's syntax)."""
NOT_IN_TEXT = rf"\u0000-\u0008\u000b-\u001f\u007f-\u009f{_BIDI}"
"""What free text may not hold."""
ONE_LINE_PATTERN = f"^[^{NOT_IN_A_LINE}]*$"
FREE_TEXT_PATTERN = f"^[^{NOT_IN_TEXT}]*$"
_NOT_IN_A_LINE = re.compile(f"[{NOT_IN_A_LINE}]")
_NOT_IN_TEXT = re.compile(f"[{NOT_IN_TEXT}]")


def _refuse(found: re.Match[str] | None, what: str) -> None:
    if found:
        raise ValueError(f"{what} (found U+{ord(found.group()):04X})")


def single_line(value: str) -> str:
    """`value` if it is one line of plain text: no control character (C0, DEL, C1, tab and
    newline included), line or paragraph separator, or bidirectional override or isolate.

    Zero-width characters are allowed: the joiner and non-joiner (U+200D, U+200C) are part of
    how Persian, Indic scripts and emoji sequences are written, the zero-width space (U+200B)
    marks word breaks in Thai or Khmer, and none of them reorders what is shown around it
    (the left-to-right and right-to-left marks, U+200E and U+200F, neither).
    """
    _refuse(
        _NOT_IN_A_LINE.search(value),
        "must be one line without control or bidirectional override characters",
    )
    return value


def multi_line(value: str) -> str:
    """`value` if it is plain text: lines (newline) and tabs, but no other control character
    (carriage return included) nor bidirectional override or isolate (see `single_line`)."""
    _refuse(
        _NOT_IN_TEXT.search(value),
        "must not contain control characters other than newline and tab, nor bidirectional"
        " override characters",
    )
    return value


@dataclass(frozen=True)
class _PlainText:
    """Refuses text by `check`, and says so in the JSON schema by `pattern`."""

    check: Callable[[str], str]
    pattern: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(schema) | {"pattern": self.pattern}


Line = _PlainText(single_line, ONE_LINE_PATTERN)
"""Refuses text that is not one line (see `single_line`)."""
Lines = _PlainText(multi_line, FREE_TEXT_PATTERN)
"""Refuses text with control characters other than newline and tab (see `multi_line`)."""


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), Line]
"""One line of text (a subject, a reason, a label)."""
LongText = Annotated[str, StringConstraints(max_length=20_000), Lines]
"""Free text of several lines (notes, comments)."""

UUID_FORM = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
"""The one written form of an id: 8-4-4-4-12 hex digits, either case."""


def parse_uuid(text: str) -> UUID | None:
    """The id `text` writes in its canonical form, or None (braces, a `urn:uuid:` prefix, no
    hyphens: not an id)."""
    return UUID(text) if UUID_FORM.fullmatch(text) else None


def _canonical_uuid(value: Any) -> Any:
    if isinstance(value, str) and parse_uuid(value) is None:
        raise ValueError("must be a UUID written as 8-4-4-4-12 hex digits")
    return value


Id = Annotated[
    UUID,
    BeforeValidator(_canonical_uuid),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uuid",
            "pattern": f"^{UUID_FORM.pattern}$",
            "minLength": 36,
            "maxLength": 36,
        }
    ),
]
"""A UUID in the body: its canonical form only, as in paths."""


MONEY_DIGITS, MONEY_PLACES = 14, 4
MAX_MONEY = Decimal("9999999999.9999")
"""The largest amount: 14 digits, 4 of them after the point (`numeric` columns hold it, and
sums of any number of them)."""
_MONEY_TEXT = MONEY_DIGITS + 1


def text_at_most(length: int) -> BeforeValidator:
    """Refuses text longer than `length` before it is parsed (a number given as a string)."""

    def short(value: Any) -> Any:
        if isinstance(value, str) and len(value) > length:
            raise ValueError(f"must be at most {length} characters")
        return value

    return BeforeValidator(short)


Money = Annotated[
    Decimal,
    text_at_most(_MONEY_TEXT),
    Field(ge=0, le=MAX_MONEY, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(MAX_MONEY)},
                {
                    "type": "string",
                    "pattern": r"^[0-9]{1,10}(\.[0-9]{1,4})?$",
                    "maxLength": _MONEY_TEXT,
                },
            ]
        }
    ),
]
"""An amount (a total, a price, a deal's value), as a JSON number or a string of digits."""


def custom_value(value: Any) -> Any:
    """A custom field's (or lead attribute's) value: text of one or more lines, a finite
    number within +-(2^53 - 1), true, false or null."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(
                f"must be a finite number from -{MAX_SAFE_INTEGER} to {MAX_SAFE_INTEGER}"
            )
        return value
    if isinstance(value, str):
        if len(value) > MAX_CUSTOM_TEXT:
            raise ValueError(f"must be at most {MAX_CUSTOM_TEXT} characters")
        return multi_line(value)
    raise ValueError("must be text, a number, true, false or null")


CUSTOM_VALUE_SCHEMA = {
    "anyOf": [
        {"type": "string", "maxLength": MAX_CUSTOM_TEXT, "pattern": FREE_TEXT_PATTERN},
        {"type": "number", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
        {"type": "boolean"},
        {"type": "null"},
    ]
}
CustomValue = Annotated[Any, PlainValidator(custom_value), WithJsonSchema(CUSTOM_VALUE_SCHEMA)]
"""A custom field or lead attribute value as a command takes it (the events' values, in
`domain.values`, stay lenient: a stored event must always load)."""


def storable(value: T) -> T:
    """`value` if PostgreSQL can store every text in it (dict keys and values, list items).

    PostgreSQL refuses the NUL character in text and JSON, and text that is not valid
    Unicode (a lone surrogate such as JSON's "\\ud800"): such input is refused at the edge
    (422 naming the field) rather than failing later in the writer or a read model.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain the NUL character (U+0000)")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            storable(item)
    return value


StorableText = Annotated[str, AfterValidator(storable)]
"""Free text from a query string, safe to send to PostgreSQL."""


class Command(BaseModel):
    """A request to change the system. `occurred_at` is business time (for imports)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    success_status: ClassVar[int] = 200

    occurred_at: AwareDatetime | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)

    @field_validator("occurred_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("must not be more than 5 minutes in the future")
        return value.astimezone(UTC) if value is not None else None

    def unique_claims(self) -> list[tuple[str, str]]:
        """(kind, value) pairs no other aggregate may hold; stored with the events."""
        return []

    def required(self) -> dict[UUID, type[Aggregate]]:
        """Other aggregates that must exist for this command, by id (the customer a deal is
        for): if one does not, the command is refused as not found (404)."""
        return {}

    def consulted(self) -> dict[UUID, type[Aggregate]]:
        """Aggregates this command reads if they exist, by id (configuration such as a sales
        team or a pipeline's stages): given to its handler, never a reason to refuse."""
        return {}
