"""Pure lifecycle arithmetic: from a validity end and an operator's rules to every stage's start instant.

The number is held from `number_loss_at` (deactivation) for the operator's quarantine days (ARCEP: the
reassignment delay runs from the end of the prepaid line). The line shows `deactivated` for the first day of
that hold (the contract is being closed), then `quarantine`, then `available`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from simkeep.catalog.models import STACK_MAX, Operator, OperatorRules
from simkeep.core.clock import add_days, end_of_local_day, local_time_on
from simkeep.core.errors import ValidityCapReached
from simkeep.line.models import ACTIVE, AVAILABLE, DEACTIVATED, GRACE, QUARANTINE, STATES, SUSPENDED

DEACTIVATED_DAYS = 1
REMINDER_LOCAL_TIME = time(10, 0)


@dataclass(frozen=True, slots=True)
class Stages:
    validity_ends_at: datetime
    suspended_at: datetime
    number_loss_at: datetime
    quarantine_at: datetime
    available_at: datetime

    def start_of(self, state: str) -> datetime:
        return {
            GRACE: self.validity_ends_at, SUSPENDED: self.suspended_at, DEACTIVATED: self.number_loss_at,
            QUARANTINE: self.quarantine_at, AVAILABLE: self.available_at,
        }[state]

    def state_at(self, now: datetime) -> str:
        state = ACTIVE
        for candidate in STATES[1:]:
            if now >= self.start_of(candidate):
                state = candidate
        return state

    def next_change_after(self, state: str) -> datetime | None:
        later = STATES[STATES.index(state) + 1:]
        return self.start_of(later[0]) if later else None


def stages(operator: Operator | OperatorRules, validity_ends_at: datetime) -> Stages:
    tz = operator.timezone
    suspended_at = add_days(validity_ends_at, operator.grace_days, tz)
    loss_at = add_days(suspended_at, operator.suspended_days, tz)
    return Stages(
        validity_ends_at=validity_ends_at,
        suspended_at=suspended_at,
        number_loss_at=loss_at,
        quarantine_at=add_days(loss_at, DEACTIVATED_DAYS, tz),
        available_at=add_days(loss_at, operator.quarantine_days, tz),
    )


def initial_validity_end(operator: Operator | OperatorRules, now: datetime) -> datetime:
    return end_of_local_day(add_days(now, operator.initial_validity_days, operator.timezone), operator.timezone)


def extended_validity(operator: Operator | OperatorRules, current_end: datetime, days: int,
                      now: datetime, bonus_days: int = 0) -> datetime:
    """The validity end after buying `days`, by the operator's stacking rule; refused past the cap. A
    promotion's `bonus_days` come on top but stop at the cap (they are a gift, not what was paid for)."""
    tz = operator.timezone
    if operator.validity_stacking == STACK_MAX:
        new_end = max(current_end, end_of_local_day(add_days(now, days, tz), tz))
    else:
        new_end = end_of_local_day(add_days(max(now, current_end), days, tz), tz)
    cap = end_of_local_day(add_days(now, operator.max_validity_days, tz), tz)
    if new_end > cap:
        raise ValidityCapReached(
            f"Validity is capped at {operator.max_validity_days} days ahead for {operator.id}.",
            cap=cap.isoformat(),
        )
    return min(cap, end_of_local_day(add_days(new_end, bonus_days, tz), tz)) if bonus_days else new_end


def reminder_at(operator: Operator | OperatorRules, number_loss_at: datetime, offset_days: int) -> datetime:
    """Reminders go out at 10:00 local time; offset 0 is the last day the number is still kept."""
    return local_time_on(number_loss_at, offset_days, REMINDER_LOCAL_TIME, operator.timezone)


def due_reminder(operator: Operator | OperatorRules, number_loss_at: datetime, reminded: int | None,
                 now: datetime) -> int | None:
    """The most urgent offset whose time has come and that this period has not had yet.
    After downtime only the latest due reminder is sent: five catch-up texts at once would be spam."""
    due = [o for o in operator.reminder_offsets if reminder_at(operator, number_loss_at, o) <= now]
    if not due or now >= number_loss_at:
        return None
    offset = min(due)
    return offset if reminded is None or offset < reminded else None


def next_reminder_at(operator: Operator | OperatorRules, number_loss_at: datetime,
                     reminded: int | None) -> datetime | None:
    pending = [o for o in operator.reminder_offsets if reminded is None or o < reminded]
    return reminder_at(operator, number_loss_at, max(pending)) if pending else None


def next_sweep_at(operator: Operator | OperatorRules, st: Stages, state: str, reminded: int | None) -> datetime | None:
    candidates = [st.next_change_after(state)]
    if state in (ACTIVE, GRACE, SUSPENDED):
        candidates.append(next_reminder_at(operator, st.number_loss_at, reminded))
    present = [c for c in candidates if c is not None]
    return min(present) if present else None
