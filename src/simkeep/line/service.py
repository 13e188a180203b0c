"""Lines: creation on a free number, lookup, and the locked read every money path starts with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import overload

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.catalog.models import OfferTerms, Operator, OperatorRules
from simkeep.core.clock import add_days
from simkeep.core.errors import InvalidInput, LineNotFound, LineNotRenewable, NumberUnavailable
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.core.phone import normalize_msisdn
from simkeep.ledger import service as ledger
from simkeep.line import repository, rules
from simkeep.line.models import (
    ACTIVE,
    AVAILABLE,
    DEACTIVATED,
    NOTE_MAX_CHARS,
    RENEWABLE,
    Line,
    LineEvent,
    LineNote,
    LockedLine,
)
from simkeep.locale import languages
from simkeep.network import service as network


@dataclass(frozen=True, slots=True)
class LineView:
    line: Line
    operator: Operator
    credit: Money
    bonus: Money

    @property
    def balance(self) -> Money:
        return self.credit + self.bonus


def create_line(session: Session, *, msisdn: str, operator_id: str, language: str = "en",
                email: str | None = None, now: datetime) -> Line:
    """`language`: any BCP 47 tag of a language we speak (zh-CN, zh_CN, zh-Hans, fr-FR, en-GB...), stored as its
    catalog id (zh_CN, fr, en); another raises UnsupportedLanguage."""
    operator = catalog.get_operator(session, operator_id)
    number = normalize_msisdn(msisdn, operator.country)
    language = languages.parse(language).language
    line_id = new_id()
    validity_end = rules.initial_validity_end(operator, now)
    stages = rules.stages(operator, validity_end)
    values = dict(
        id=line_id, msisdn=number, operator_id=operator.id, state=ACTIVE, language=language, email=email,
        validity_ends_at=validity_end, number_loss_at=stages.number_loss_at, available_at=stages.available_at,
        next_sweep_at=rules.next_sweep_at(operator, stages, ACTIVE, None), reminded_offset=None,
        created_at=now, state_changed_at=now,
    )
    try:
        with session.begin_nested():
            credit, bonus = ledger.open_subscriber_accounts(session, owner_id=line_id, currency=operator.currency, now=now)
            session.execute(insert(Line.__table__), [{**values, "credit_account_id": credit, "bonus_account_id": bonus}])
    except IntegrityError as exc:
        raise NumberUnavailable() from exc
    record_event(session, line_id=line_id, from_state=None, to_state=ACTIVE, reason="created", now=now)
    return repository.get(session, line_id)


def event_row(line_id, from_state: str | None, to_state: str, reason: str, now: datetime) -> dict:
    return {"id": new_id(), "line_id": line_id, "from_state": from_state, "to_state": to_state, "reason": reason, "at": now}


_INSERT_EVENT = insert(LineEvent.__table__)


def record_events(session: Session, rows: list[dict]) -> None:
    """Every line state change goes through here: its history row, and what the network should now hold (a line with
    a SIM gets a provisioning command in this same transaction)."""
    if rows:
        session.connection().execute(_INSERT_EVENT, rows)
        network.follow(session, ((row["line_id"], row["to_state"]) for row in rows), now=rows[-1]["at"])


def record_event(session: Session, *, line_id, from_state: str | None, to_state: str, reason: str, now: datetime) -> None:
    record_events(session, [event_row(line_id, from_state, to_state, reason, now)])


@overload
def lock_live_line(session: Session, msisdn: str, offer_id: None = None,
                   request: tuple[Table, str, str] | None = None) -> tuple[LockedLine, OperatorRules] | None: ...


@overload
def lock_live_line(session: Session, msisdn: str, offer_id: str, request: tuple[Table, str, str] | None = None
                   ) -> tuple[LockedLine, OperatorRules, OfferTerms | None] | None: ...


def lock_live_line(session: Session, msisdn: str, offer_id: str | None = None,
                   request: tuple[Table, str, str] | None = None) -> repository.Locked | None:
    """(line, operator[, offer]) for a money path with the line locked, or None if the number has no live line.
    `request` = (table, principal, key) also reads an earlier request with that key (`line.earlier_id`)."""
    return repository.lock_live(session, msisdn, offer_id, request)


def no_live_line(session: Session, msisdn: str) -> Exception:
    """Why a number has no live line: it never had one, or its last one ended."""
    return LineNotRenewable() if repository.ever_held(session, msisdn) else LineNotFound()


def apply_validity(session: Session, *, line: LockedLine, operator: OperatorRules, validity_ends_at: datetime,
                   reason: str, now: datetime) -> str | None:
    """A new validity period: the line is active again and its reminders start afresh. Returns the state the line
    left, None if it was active (the caller tells the operator's systems: `notification.events.line_state_changed`)."""
    stages = rules.stages(operator, validity_ends_at)
    left = line.state if line.state != ACTIVE else None
    if left:
        record_event(session, line_id=line.id, from_state=left, to_state=ACTIVE, reason=reason, now=now)
    repository.save_validity(
        session, line.id, validity_ends_at=validity_ends_at, number_loss_at=stages.number_loss_at,
        available_at=stages.available_at, next_sweep_at=rules.next_sweep_at(operator, stages, ACTIVE, None),
        state=ACTIVE, state_changed_at=now if left else line.state_changed_at,
    )
    return left


def shorten_validity(session: Session, *, line: LockedLine, operator: OperatorRules, validity_ends_at: datetime,
                     now: datetime) -> None:
    """Validity taken back (a refunded top-up). The state is left to the sweep, which is due at once."""
    stages = rules.stages(operator, validity_ends_at)
    repository.set_schedule(session, line.id, validity_ends_at=validity_ends_at, number_loss_at=stages.number_loss_at,
                            available_at=stages.available_at, next_sweep_at=now, reminded_offset=None)


def close(session: Session, *, line: LockedLine, operator: OperatorRules, now: datetime) -> None:
    """End the service now, at the subscriber's request: the line is deactivated as if its number-loss date were
    `now` (the validity end moved back by the grace and suspended days), so the sweep takes it on through
    quarantine to the pool on the usual dates. The caller holds the line locked and settles its balance."""
    tz = operator.timezone
    validity_end = add_days(add_days(now, -operator.suspended_days, tz), -operator.grace_days, tz)
    stages = rules.stages(operator, validity_end)
    if stages.number_loss_at > now:  # a DST change in between: land on now, not an hour after
        validity_end -= stages.number_loss_at - now
        stages = rules.stages(operator, validity_end)
    record_event(session, line_id=line.id, from_state=line.state, to_state=DEACTIVATED, reason="closed", now=now)
    repository.set_schedule(session, line.id, state=DEACTIVATED, state_changed_at=now, validity_ends_at=validity_end,
                            number_loss_at=stages.number_loss_at, available_at=stages.available_at,
                            next_sweep_at=rules.next_sweep_at(operator, stages, DEACTIVATED, None),
                            reminded_offset=None)


def find_live_line(session: Session, msisdn: str) -> Line | None:
    line = repository.current_for_msisdn(session, msisdn)
    return line if line is not None and line.state != AVAILABLE else None


def find_live_line_by_id(session: Session, line_id) -> Line | None:
    """The line, while it still holds its number (not yet given back to the pool)."""
    line = repository.fresh(session, line_id)
    return line if line is not None and line.state != AVAILABLE else None


def email_of(session: Session, line_id) -> str | None:
    return repository.email_of(session, line_id)


def set_reminders_opted_out(session: Session, line_id, *, at: datetime | None) -> None:
    """Reminders stop from `at` (None: they start again)."""
    repository.set_opt_out(session, line_id, at=at)


def set_language(session: Session, line_id, language: str) -> str:
    """The language the line's messages, calls and USSD menus speak from now on (any BCP 47 tag of a language we
    speak, stored as its catalog id: zh_CN, fr, en; another raises UnsupportedLanguage). Returns that id."""
    language = languages.parse(language).language
    repository.set_language(session, line_id, language)
    return language


def find_line(session: Session, msisdn: str) -> Line:
    line = repository.current_for_msisdn(session, msisdn)
    if line is None:
        raise LineNotFound()
    return line


def view(session: Session, line: Line) -> LineView:
    operator = catalog.get_operator(session, line.operator_id)
    balances = ledger.balances(session, [line.credit_account_id, line.bonus_account_id])
    return LineView(line, operator, Money(balances[line.credit_account_id], operator.currency),
                    Money(balances[line.bonus_account_id], operator.currency))


# -- the back office: finding lines, staff notes, reminders paused by staff ------------------------------------------

SEARCH_LIMIT = 50


class NoteInvalid(InvalidInput):
    code, message = "line_note_invalid", f"A note has 1 to {NOTE_MAX_CHARS} characters."


class PauseInvalid(InvalidInput):
    code, message = "reminder_pause_invalid", "Reminders can be paused until a later date, on a line that gets them."


def get_line(session: Session, line_id) -> Line:
    """Any line by id, live or former (LineNotFound otherwise)."""
    line = repository.fresh(session, line_id)
    if line is None:
        raise LineNotFound()
    return line


def lines_of_numbers(session: Session, msisdns: list[str], *, limit: int = SEARCH_LIMIT) -> list[Line]:
    """Every line that held one of these numbers, newest first: a recycled number has its live line and former ones."""
    return repository.all_for_msisdn(session, msisdns, limit=limit) if msisdns else []


def lines_of_email(session: Session, email: str, *, limit: int = SEARCH_LIMIT) -> list[Line]:
    return repository.for_email(session, email.strip(), limit=limit)


def lines_by_ids(session: Session, line_ids: list) -> list[Line]:
    return repository.by_ids(session, list(dict.fromkeys(line_ids))) if line_ids else []


def add_note(session: Session, *, line: Line, author: str, text: str, now: datetime) -> LineNote:
    """A staff note on the line, kept as written (never edited: a correction is another note)."""
    body = (text or "").strip()
    if not body or len(body) > NOTE_MAX_CHARS:
        raise NoteInvalid()
    row = {"id": new_id(), "line_id": line.id, "author": author, "text": body, "at": now}
    repository.add_note(session, row)
    return LineNote(**row)


def notes(session: Session, line_id, *, before: datetime | None = None, limit: int = 50) -> list[LineNote]:
    """Notes at or before `before`, newest first."""
    return repository.notes(session, line_id, before=before, limit=limit)


def events_upto(session: Session, line_id, *, before: datetime | None = None, limit: int = 50) -> list[LineEvent]:
    """State changes at or before `before`, newest first (a timeline page's cursor instant included)."""
    return repository.events_upto(session, line_id, before=before, limit=limit)


def pause_reminders(session: Session, *, line: Line, until: datetime, now: datetime) -> None:
    """No reminder before `until`: the sweep keeps a due one waiting and sends the most urgent one then (only a line
    that can still be renewed gets reminders, so only such a line can be paused)."""
    if until <= now or line.state not in RENEWABLE:
        raise PauseInvalid()
    repository.set_paused_until(session, line.id, until=until)


def resume_reminders(session: Session, *, line: Line, now: datetime) -> None:
    """Reminders again from now: the line is swept at once, so a reminder that waited goes out now."""
    repository.set_paused_until(session, line.id, until=None,
                                sweep_at=now if line.state != AVAILABLE else None)


def reminders_paused(line: Line, now: datetime) -> bool:
    return line.reminders_paused_until is not None and line.reminders_paused_until > now
