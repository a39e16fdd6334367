"""The sales team as leads meet it: its reps and their territories, whose turn it is to get
the next lead, and which leads came in before (to spot a duplicate by email).

There is one sales team, with a well-known id; it starts without reps, and then leads stay
unassigned. Every lead is taken in by the team (`LeadTaken`), so that round-robin turns and
the known emails are a fold of its events. Emails are kept as SHA-256 digests of their
case-folded form, never as text: personal data stays in the lead's own events.
"""

import hashlib
from collections.abc import Mapping, Sequence
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.values import CustomValue, Meta, Value

SALES_TEAM_ID = UUID("3c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f")
DEFAULT_TERRITORY_ATTRIBUTE = "country"


class SalesRep(Value):
    """A rep who may own leads; `territories` are values of the team's territory attribute
    (such as countries) whose leads go to them first."""

    id: str
    name: str
    active: bool = True
    territories: tuple[str, ...] = ()

    def covers(self, territory: str) -> bool:
        """Whether the rep's territories include `territory` (case-insensitive)."""
        return territory in {t.casefold() for t in self.territories}


class Intake(Value):
    """What the team decided for a new lead: its owner (None without active reps) and the
    earlier lead with the same email, if any."""

    owner_id: str | None
    duplicate_of: UUID | None


def next_owner(
    reps: Sequence[SalesRep], last_turns: Mapping[str, int], territory: str | None
) -> str | None:
    """The active rep whose turn it is: among those covering `territory`, else among those
    without territories, else among all active reps; the one who got a lead least recently
    (never: first in list order). Round-robin within any fixed set of reps."""
    active = [rep for rep in reps if rep.active]
    pool = (
        [rep for rep in active if territory is not None and rep.covers(territory)]
        or [rep for rep in active if not rep.territories]
        or active
    )
    if not pool:
        return None
    return min(pool, key=lambda rep: last_turns.get(rep.id, 0)).id


def email_digest(email: str) -> str:
    """The digest an email is known by (case-insensitive)."""
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()


class SalesTeam(Aggregate):
    """The reps who get leads, by round-robin and territory, and the leads taken in so far."""

    id: UUID

    @classmethod
    def start(cls, meta: Meta) -> "SalesTeam":
        """The sales team before its reps are set: leads stay unassigned."""
        return cls(id=SALES_TEAM_ID, meta=meta)

    @event("Started")
    def __init__(self, meta: Meta) -> None:
        self.reps: tuple[SalesRep, ...] = ()
        self.territory_attribute = DEFAULT_TERRITORY_ATTRIBUTE
        self.last_turns: dict[str, int] = {}
        self.turns = 0
        self.leads_by_email: dict[str, tuple[UUID, str | None]] = {}

    def set_reps(self, reps: tuple[SalesRep, ...], territory_attribute: str, meta: Meta) -> None:
        """Sets the reps and the lead attribute territories are matched on; records nothing
        when both are the current ones. Reps keep their turns by id."""
        if (reps, territory_attribute) != (self.reps, self.territory_attribute):
            self._set_reps(reps, territory_attribute, meta)

    @event("RepsSet")
    def _set_reps(self, reps: tuple[SalesRep, ...], territory_attribute: str, meta: Meta) -> None:
        self.reps = reps
        self.territory_attribute = territory_attribute

    def take_lead(
        self, lead_id: UUID, email: str, facts: Mapping[str, CustomValue], meta: Meta
    ) -> Intake:
        """Takes in a new lead: a duplicate (same email as an earlier lead) goes to the
        earlier lead's owner while that rep is active; any other lead to the rep whose turn
        it is (see `next_owner`)."""
        digest = email_digest(email)
        earlier_id, earlier_owner = self.leads_by_email.get(digest, (None, None))
        active = {rep.id for rep in self.reps if rep.active}
        owner = (
            earlier_owner
            if earlier_owner in active
            else next_owner(self.reps, self.last_turns, self._territory(facts))
        )
        self._take_lead(lead_id, digest, owner, earlier_id, meta)
        return Intake(owner_id=owner, duplicate_of=earlier_id)

    @event("LeadTaken")
    def _take_lead(
        self,
        lead_id: UUID,
        email_digest: str,
        owner_id: str | None,
        duplicate_of: UUID | None,
        meta: Meta,
    ) -> None:
        if duplicate_of is None:
            self.leads_by_email[email_digest] = (lead_id, owner_id)
        if owner_id is not None:
            self.turns += 1
            self.last_turns[owner_id] = self.turns

    def _territory(self, facts: Mapping[str, CustomValue]) -> str | None:
        value = facts.get(self.territory_attribute)
        return None if value is None or isinstance(value, bool) else str(value).casefold()
