"""Handlers of SLA commands (see `commands.handling`)."""

from commands.handling import Decide, Decision
from commands.sla import RecordSlaBreach, SetSlaPolicy
from domain.sla_policy import SlaPolicy
from domain.ticket import Ticket


def set_sla_policy(command: SetSlaPolicy, ctx: Decide[SlaPolicy]) -> Decision:
    """Defines the priority's policy on its first command, else changes it."""
    policy = ctx.current
    if policy is None:
        return Decision(SlaPolicy.define(command.priority, command.terms(), ctx.meta))
    policy.change(command.terms(), ctx.meta)
    return Decision(policy)


def record_sla_breach(command: RecordSlaBreach, ctx: Decide[Ticket]) -> Decision:
    """Records the breach on the ticket (nothing if that target's breach is recorded)."""
    ctx.aggregate.record_sla_breach(command.target, command.policy_version, ctx.meta)
    return Decision(ctx.aggregate)
