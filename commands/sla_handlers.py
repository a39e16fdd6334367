"""Handlers of SLA commands: `(command, aggregate or None, id, meta) -> (aggregate, answer)`."""

from uuid import UUID

from commands.registry import Answer, handles
from commands.sla import RecordSlaBreach, SetSlaPolicy
from domain.sla_policy import SlaPolicy
from domain.ticket import Ticket
from domain.values import Meta


@handles(SetSlaPolicy, SlaPolicy)
def set_sla_policy(
    command: SetSlaPolicy, policy: SlaPolicy | None, _: UUID, meta: Meta
) -> tuple[SlaPolicy, Answer]:
    """Defines the priority's policy on its first command, else changes it."""
    if policy is None:
        return SlaPolicy.define(command.priority, command.terms(), meta), {}
    policy.change(command.terms(), meta)
    return policy, {}


@handles(RecordSlaBreach, Ticket)
def record_sla_breach(
    command: RecordSlaBreach, ticket: Ticket, _: UUID, meta: Meta
) -> tuple[Ticket, Answer]:
    """Records the breach on the ticket (nothing if that target's breach is recorded)."""
    ticket.record_sla_breach(command.target, command.policy_version, meta)
    return ticket, {}
