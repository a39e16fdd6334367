"""The SLA of many tickets at once, as of an instant: pure numpy over their status changes.

A ticket's clocks run while it is open; they stop while it is pending on the customer
(paused) and once it is solved or closed (settled; reopening starts them again). The
first-response clock also stops at the first agent reply. Each clock is measured in the
business time of the policy version that applies: the one in force when the ticket was
settled, else (an unsettled ticket) the one in force now, so that open tickets take a new
policy at once. A target's state is `met` (stopped within it), `breached` (used up),
`at_risk` (running, at least 3/4 used) or `ok`. Instants are µs since the epoch.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.business_time import MINUTE, BusinessClock, clock, micros
from domain.sla_policy import AT_RISK_SHARE, SlaTerms
from domain.ticket import Priority, TicketStatus
from projections.sla.policies import Policy

Ints = npt.NDArray[np.int64]
NEVER = np.iinfo(np.int64).max
"""The instant of what has not happened (no first response yet)."""
NO_DUE = -1
"""The due instant of a paused clock: it depends on when the ticket resumes."""
PRIORITIES = tuple(Priority)
STATUSES = tuple(TicketStatus)
OPEN, PENDING, SOLVED = (STATUSES.index(s) for s in ("open", "pending", "solved"))
STATES = ("ok", "at_risk", "breached", "met")
OK, AT_RISK, BREACHED, MET = range(4)


@dataclass(frozen=True)
class Clocks:
    """Tickets (in order) and their status changes, flattened in ticket then history order:
    `ticket[k]`, `at[k]` and `status[k]` (an index in STATUSES) of the k-th change."""

    priority: Ints
    first_response: Ints
    ticket: Ints
    at: Ints
    status: Ints


@dataclass(frozen=True)
class Target:
    """One target of each ticket: its minutes, business time used (µs), due instant
    (NO_DUE while paused short of it) and state (an index in STATES)."""

    minutes: Ints
    elapsed: Ints
    due: Ints
    state: Ints


@dataclass(frozen=True)
class Measures:
    """The SLA of each ticket; `version` 0: no policy applies (the ticket is not measured)."""

    version: Ints
    status: Ints
    opened: Ints
    first_response: Target
    resolution: Target
    state: Ints


@dataclass(frozen=True)
class _Stays:
    """Each status change until the next one (or the instant measured), and each ticket's
    status at that instant, with the time it was settled (NEVER if it is not)."""

    ticket: Ints
    start: Ints
    end: Ints
    status: Ints
    now: Ints
    settled_at: Ints


def measure(clocks: Clocks, policies: dict[Priority, Policy], as_of: int) -> Measures:
    """The SLA of every ticket as of `as_of` (every ticket given is opened by then)."""
    count = len(clocks.priority)
    stays = _stays(clocks, as_of)
    when = np.where(stays.now >= SOLVED, stays.settled_at, as_of)
    version = _versions(clocks.priority, when, policies)
    response, resolution = _blank(count), _blank(count)
    for code, policy in policies.items():
        terms = {v.version: v.terms for v in policy.versions}
        mine = clocks.priority == PRIORITIES.index(code)
        for number in np.unique(version[mine & (version > 0)]):
            group = np.flatnonzero(mine & (version == number))
            measured = _measure_group(clocks, stays, group, terms[int(number)], as_of)
            for target, part in zip((response, resolution), measured, strict=True):
                _fill(target, group, part)
    running = np.maximum(_unmet(response.state), _unmet(resolution.state))
    both_met = (response.state == MET) & (resolution.state == MET)
    opened = clocks.at[np.searchsorted(clocks.ticket, np.arange(count))]
    state = np.where(both_met, MET, running)
    return Measures(version, stays.now, opened, response, resolution, state)


def _stays(clocks: Clocks, as_of: int) -> _Stays:
    kept = clocks.at <= as_of
    ticket, start, status = clocks.ticket[kept], clocks.at[kept], clocks.status[kept]
    tickets = np.arange(len(clocks.priority))
    first_row = np.searchsorted(ticket, tickets)
    last_row = np.searchsorted(ticket, tickets, side="right") - 1
    end = np.append(start[1:], as_of)
    end[last_row] = as_of
    end = np.maximum(end, start)  # a change backdated before the previous one lasts 0
    unsettled = np.where(status < SOLVED, np.arange(len(status)), -1)
    settled_from = np.minimum(np.maximum.reduceat(unsettled, first_row) + 1, last_row)
    now = status[last_row]
    settled_at = np.where(now >= SOLVED, start[settled_from], NEVER)
    return _Stays(ticket, start, end, status, now, settled_at)


def _versions(priority: Ints, when: Ints, policies: dict[Priority, Policy]) -> Ints:
    """The policy version in force for each ticket at `when` (0: none)."""
    version = np.zeros(len(priority), dtype=np.int64)
    for code, policy in policies.items():
        mine = priority == PRIORITIES.index(code)
        ordered = sorted(policy.versions, key=lambda v: v.effective_at)
        effective = np.array([micros(v.effective_at) for v in ordered], dtype=np.int64)
        in_force = np.maximum.accumulate([v.version for v in ordered])
        found = np.searchsorted(effective, when[mine], side="right") - 1
        version[mine] = np.where(found >= 0, in_force[np.maximum(found, 0)], 0)
    return version


def _measure_group(
    clocks: Clocks, stays: _Stays, group: Ints, terms: SlaTerms, as_of: int
) -> tuple[Target, Target]:
    """The first-response and resolution targets of tickets under the same terms."""
    in_group = np.zeros(len(clocks.priority), dtype=np.bool_)
    in_group[group] = True
    rows = in_group[stays.ticket]
    running = rows & (stays.status == OPEN)
    ticket = np.searchsorted(group, stays.ticket[running])
    start, end = stays.start[running], stays.end[running]
    first = clocks.first_response[group]
    answered = np.where(first <= as_of, first, NEVER)
    longest = max(terms.first_response_minutes, terms.resolution_minutes) * MINUTE
    ticking = _Ticking(
        clock(terms.business_hours, int(stays.start[rows].min()), as_of, longest),
        paused=stays.now[group] == PENDING,
        as_of=as_of,
    )
    until_answered = np.maximum(np.minimum(end, answered[ticket]), start)
    settled_at = stays.settled_at[group]
    return (
        ticking.target(
            _Spans(ticket, start, until_answered),
            terms.first_response_minutes,
            np.minimum(answered, settled_at),
        ),
        ticking.target(_Spans(ticket, start, end), terms.resolution_minutes, settled_at),
    )


@dataclass(frozen=True)
class _Spans:
    """Spans during which a clock ran, in ticket order: ticket (in its group), start, end."""

    ticket: Ints
    start: Ints
    end: Ints


@dataclass(frozen=True)
class _Ticking:
    """The business clock of a group of tickets, which of them are paused, and the instant
    they are measured at."""

    clock: BusinessClock
    paused: npt.NDArray[np.bool_]
    as_of: int

    def target(self, spans: _Spans, minutes: int, stop: Ints) -> Target:
        """One target, from the spans its clock ran in and when it stopped (NEVER: it has
        not)."""
        count, limit, ticking = len(stop), minutes * MINUTE, self.clock
        begin = ticking.reading(spans.start)
        length = ticking.reading(spans.end) - begin
        used = np.bincount(spans.ticket, weights=length, minlength=count).astype(np.int64)
        before = np.cumsum(length) - length - (np.cumsum(used) - used)[spans.ticket]
        crossing = (before < limit) & (before + length >= limit)
        due = np.full(count, NO_DUE, dtype=np.int64)
        due[spans.ticket[crossing]] = ticking.instant(begin[crossing] + limit - before[crossing])
        stopped = stop != NEVER
        going = (used < limit) & (stopped | ~self.paused)
        last = np.where(stopped, stop, self.as_of)[going]
        due[going] = ticking.instant(ticking.reading(last) + limit - used[going])
        state = np.where(
            stopped,
            np.where(used <= limit, MET, BREACHED),
            np.where(used >= limit, BREACHED, np.where(_at_risk(used, limit), AT_RISK, OK)),
        )
        return Target(np.full(count, minutes, dtype=np.int64), used, due, state)


def _at_risk(used: Ints, limit: int) -> npt.NDArray[np.bool_]:
    share, whole = AT_RISK_SHARE
    return used * whole >= limit * share


def _unmet(state: Ints) -> Ints:
    """A state ranked for the ticket's overall state: met counts as ok there."""
    return np.where(state == MET, OK, state)


def _blank(count: int) -> Target:
    zeros = np.zeros(count, dtype=np.int64)
    return Target(zeros.copy(), zeros.copy(), np.full(count, NO_DUE, dtype=np.int64), zeros)


def _fill(target: Target, group: Ints, part: Target) -> None:
    for name in ("minutes", "elapsed", "due", "state"):
        getattr(target, name)[group] = getattr(part, name)
