"""Service-level policies: for each ticket priority, how soon a ticket must get its first
agent reply and be solved, in minutes of business time.

There is one policy per priority, an aggregate whose id is derived from the priority
(`policy_id`), so that the first command for a priority defines it and later ones change
it, and policies of different priorities never contend. Every change is an event, and the
aggregate's version numbers the policy's versions: a ticket's SLA names the version that
applies to it.
"""

from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.business_time import BusinessHours
from domain.ticket import Priority
from domain.values import Meta, Value

POLICY_NAMESPACE = UUID("a3d5c2e1-7b9f-4e0a-8c6d-2f1e0b9a8d7c")
AT_RISK_SHARE = (3, 4)
"""A running target is at risk once this share (3/4) of it is used."""


def policy_id(priority: Priority) -> UUID:
    """The id of the policy of a priority: the same on every machine and every replay."""
    return uuid5(POLICY_NAMESPACE, f"sla-policy/{priority.value}")


class SlaTerms(Value):
    """The targets of a policy, in minutes of business time; no business hours: round the
    clock."""

    first_response_minutes: int
    resolution_minutes: int
    business_hours: BusinessHours | None = None


class SlaPolicy(Aggregate):
    """The service-level targets of tickets of one priority. It holds its terms (new terms
    equal to them record nothing); its priority is in its id and its events."""

    id: UUID

    @classmethod
    def define(cls, priority: Priority, terms: SlaTerms, meta: Meta) -> "SlaPolicy":
        """The first policy of a priority (its version 1)."""
        return cls(id=policy_id(priority), priority=priority, terms=terms, meta=meta)

    @event("Defined")
    def __init__(self, priority: Priority, terms: SlaTerms, meta: Meta) -> None:
        self.terms = terms

    def change(self, terms: SlaTerms, meta: Meta) -> None:
        """Puts new terms in force (a new version); records nothing when they are the
        current ones."""
        if terms != self.terms:
            self._change(terms, meta)

    @event("Changed")
    def _change(self, terms: SlaTerms, meta: Meta) -> None:
        self.terms = terms
