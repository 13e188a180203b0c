"""Lifecycle sweeps: reminders and state transitions that are due, as of a given instant.

One batch = one transaction. Each line is claimed with its row lock, its target state is derived from its
validity end and the operator's rules, and every message carries a dedup key, so repeating a sweep, or running
several sweeps at once, never double-acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.catalog.models import Operator
from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Entry, Leg
from simkeep.lifecycle import repository
from simkeep.line import rules
from simkeep.line import service as lines
from simkeep.line.links import PLAIN, RenewalLinks
from simkeep.line.models import ACTIVE, DEACTIVATED, GRACE, RENEWABLE, STATES, SUSPENDED, Line, LockedLine
from simkeep.notification import events, outbox
from simkeep.plan import service as plans

SUBSCRIBER_NOTICE = (GRACE, SUSPENDED, DEACTIVATED)


@dataclass
class SweepResult:
    lines: int = 0
    transitions: dict[str, int] = field(default_factory=dict)
    reminders: int = 0
    forfeited: int = 0

    def add(self, other: SweepResult) -> None:
        self.lines += other.lines
        self.reminders += other.reminders
        self.forfeited += other.forfeited
        for state, n in other.transitions.items():
            self.transitions[state] = self.transitions.get(state, 0) + n


def count_due(session: Session, *, now: datetime) -> int:
    return repository.count_due(session, now=now)


def sweep_batch(session: Session, *, now: datetime, limit: int = 2000,
                links: RenewalLinks = PLAIN) -> SweepResult:
    """Reminders link to the portal's renewal page, signed by `links` for the line they name."""
    due = repository.claim_due(session, now=now, limit=limit)
    result = SweepResult(lines=len(due))
    if not due:
        return result
    operators = repository.operators(session)
    cheapest = repository.cheapest_offers(session)
    plan_cache: dict = {}  # one keep-my-number plan per (operator, validity end, language) in this batch
    updates, event_rows, messages, forfeits = [], [], [], []
    for line in due:
        operator = operators[line.operator_id]
        stages = rules.stages(operator, line.validity_ends_at)
        target = stages.state_at(now)
        path = _path(line.state, target)
        reminded = line.reminded_offset
        offset = rules.due_reminder(operator, line.number_loss_at, reminded, now) if target in (ACTIVE, GRACE, SUSPENDED) else None
        waits_until = None
        if offset is not None and lines.reminders_paused(line, now):
            # Paused by staff: the reminder waits (not counted), and the line is swept again when the pause ends.
            waits_until, offset = line.reminders_paused_until, None
        if offset is not None:
            reminded = offset  # counted even when opted out, so the schedule moves on
            if line.reminders_opted_out_at is None:
                reminder = _reminder(line, operator, offset, state=target, cheapest=cheapest.get(operator.id),
                                     links=links)
                keep_plan = plans.cheapest_for_reminder(session, line=line, operator=operator, now=now,
                                                        days=plans.REMINDER_PLAN_DAYS, cache=plan_cache)
                if keep_plan is not None:
                    reminder.payload["keep_plan"] = keep_plan
                messages += [reminder, *_by_email_too(line, reminder)]
        for from_state, to_state in path:
            event_rows.append(lines.event_row(line.id, from_state, to_state, "sweep", now))
            messages += events.line_state_changed(session, line, from_state, to_state, now)
            result.transitions[to_state] = result.transitions.get(to_state, 0) + 1
            if to_state == operator.forfeit_balance_on:
                forfeits.append(line)
        if path and target in SUBSCRIBER_NOTICE:
            notice = _state_notice(line, operator, target)
            messages += [notice, *_by_email_too(line, notice)]
        updates.append({
            "b_id": line.id, "b_state": line.state, "new_state": target,
            "changed_at": now if path else line.state_changed_at, "reminded": reminded,
            "next_at": _next_at(operator, stages, target, reminded, waits_until, line, now),
        })
    repository.save_sweep_results(session, updates)
    lines.record_events(session, event_rows)
    result.reminders = sum(1 for m in messages if m.topic == "reminder")
    result.forfeited = _forfeit(session, forfeits, operators, now)
    outbox.enqueue(session, messages, now=now)
    return result


def _next_at(operator: Operator, stages: rules.Stages, target: str, reminded: int | None,
             waits_until: datetime | None, line: Line, now: datetime) -> datetime | None:
    """The line's next sweep; with a reminder waiting for a pause to end, no later than that end (and the schedule
    otherwise as if the waiting reminder were sent, so the line is not claimed again on every sweep meanwhile)."""
    if waits_until is None:
        return rules.next_sweep_at(operator, stages, target, reminded)
    as_if_sent = rules.due_reminder(operator, line.number_loss_at, reminded, now)
    later = rules.next_sweep_at(operator, stages, target, as_if_sent)
    return waits_until if later is None else min(later, waits_until)


def _path(current: str, target: str) -> list[tuple[str, str]]:
    """Every state passed on the way, so history and operator events miss none."""
    i, j = STATES.index(current), STATES.index(target)
    return [(STATES[k], STATES[k + 1]) for k in range(i, j)]


def _forfeit(session: Session, forfeited: list[Line], operators: dict[str, Operator], now: datetime) -> int:
    """Remaining credit leaves the subscriber when the operator's rule says so, through the ledger."""
    if not forfeited:
        return 0
    held = ledger.balances(session, [a for line in forfeited for a in (line.credit_account_id, line.bonus_account_id)])
    entries = [entry for line in forfeited
               if (entry := _forfeit_entry(line, operators[line.operator_id].currency, held,
                                           f"forfeit:{line.id}:{line.validity_ends_at.isoformat()}")) is not None]
    ledger.post_many(session, entries, now=now)
    return len(entries)


def _forfeit_entry(line: Line | LockedLine, currency: str, held: dict, reference: str) -> Entry | None:
    """Credit to breakage, bonus back to promotion expense; None when nothing is left."""
    credit = Money(held[line.credit_account_id], currency)
    bonus = Money(held[line.bonus_account_id], currency)
    if credit.minor == 0 and bonus.minor == 0:
        return None
    return Entry("forfeit", reference, [
        Leg(line.credit_account_id, -credit, tracked=True),
        Leg(ledger.system_account_id(ledger.BREAKAGE, currency), credit),
        Leg(line.bonus_account_id, -bonus, tracked=True),
        Leg(ledger.system_account_id(ledger.PROMOTION_EXPENSE, currency), bonus),
    ])


def close_line(session: Session, *, msisdn: str, now: datetime) -> bool:
    """End the service of the number's line now, at its subscriber's request (privacy erasure with --close-line):
    deactivated at once, what is left of its balance forfeited as the sweep forfeits it (credit to breakage, bonus
    back to promotion expense), the operator's systems told, the network following through the state change.
    False when the number has no line in service (nothing to close)."""
    locked = lines.lock_live_line(session, msisdn)
    if locked is None or locked[0].state not in RENEWABLE:
        return False
    line, operator = locked
    lines.close(session, line=line, operator=operator, now=now)
    held = ledger.balances(session, [line.credit_account_id, line.bonus_account_id])
    entry = _forfeit_entry(line, operator.currency, held, f"forfeit:{line.id}:closed")
    if entry is not None:
        ledger.post_many(session, [entry], now=now)
    outbox.enqueue(session, events.line_state_changed(session, line, line.state, DEACTIVATED, now), now=now)
    return True


def _by_email_too(line: Line, message: outbox.Message) -> list[outbox.Message]:
    """E-mail is a second channel for warnings about the number when the subscriber gave an address."""
    if not line.email:
        return []
    return [replace(message, dedup_key=f"{message.dedup_key}:email", channel=outbox.EMAIL, recipient=line.email)]


def _reminder(line: Line, operator: Operator, offset: int, *, state: str, cheapest: dict | None,
              links: RenewalLinks) -> outbox.Message:
    return outbox.Message(
        dedup_key=f"reminder:{line.id}:{line.number_loss_at.isoformat()}:{offset}", topic="reminder",
        channel=outbox.SMS, recipient=line.msisdn, language=line.language, line_id=line.id,
        quiet_tz=operator.timezone,
        payload={"msisdn": line.msisdn, "operator_id": operator.id, "days_before": offset, "state": state,
                 "number_loss_at": line.number_loss_at.isoformat(), "timezone": operator.timezone,
                 "cheapest_offer": cheapest, "renew_url": links.url(line.msisdn, until=line.number_loss_at)},
    )


def _state_notice(line: Line, operator: Operator, state: str) -> outbox.Message:
    return outbox.Message(
        dedup_key=f"line.{state}:{line.id}:{line.validity_ends_at.isoformat()}", topic=f"line.{state}",
        channel=outbox.SMS, recipient=line.msisdn, language=line.language, line_id=line.id,
        quiet_tz=operator.timezone,
        payload={"msisdn": line.msisdn, "operator_id": operator.id, "state": state,
                 "number_loss_at": line.number_loss_at.isoformat(), "timezone": operator.timezone},
    )
