"""Upcasters: the `data` of an event recorded or sent under an older schema version of its
type, brought up to the type's current one (`EventEntry.schema_version`), step by step.

Every event type is at version 1 today, so there is no upcaster yet. Changing a payload's
fields means: raise its `schema_version`, register here the function that takes the old
`data` to the new, and have the stored state carry its version (`schema_version`, absent for
version 1: `domain.events.envelope.from_stored` reads it). Readers then only ever see the
current form.
"""

from collections.abc import Callable, Mapping
from typing import Any

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]
"""Takes an event's `data` from one schema version to the next."""

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(type name, from version) -> the upcaster from that version to the next one."""


class UnknownSchemaVersion(ValueError):
    """A schema version newer than the type's, or older without upcasters up to it."""


def upcast(
    name: str,
    data: Data,
    version: int,
    current: int,
    upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
) -> Data:
    """`data` of event type `name`, recorded at schema `version`, at version `current`."""
    steps = [upcasters.get((name, v)) for v in range(version, current)]
    if version > current or None in steps:
        raise UnknownSchemaVersion(f"unknown schema_version {version}")
    for step in steps:
        data = step(data)  # type: ignore[misc]
    return data
