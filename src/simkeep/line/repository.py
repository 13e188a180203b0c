from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Table, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session

from simkeep.catalog.models import Offer, OfferTerms, Operator, OperatorRules
from simkeep.line.models import AVAILABLE, Line, LineEvent, LineNote, LockedLine


def get(session: Session, line_id: uuid.UUID) -> Line:
    return session.get_one(Line, line_id)


def fresh(session: Session, line_id: uuid.UUID) -> Line | None:
    """The line as stored now (not as this session's identity map last saw it), or None."""
    return session.get(Line, line_id, populate_existing=True)


def current_for_msisdn(session: Session, msisdn: str) -> Line | None:
    """The number's newest line: the live one if any, else the last one that held it."""
    return session.scalars(
        select(Line).where(Line.msisdn == msisdn).order_by(Line.created_at.desc(), Line.id.desc()).limit(1)
    ).first()


_LINES, _OPERATORS, _OFFERS = Line.__table__, Operator.__table__, Offer.__table__


# Only what money paths need (the fields of the row types): fewer columns, less decoding on the hottest query.
_LINE_STATE = tuple(f.name for f in fields(LockedLine) if f.name != "earlier_id")
_OPERATOR_RULES = tuple(f.name for f in fields(OperatorRules))
_OFFER_TERMS = tuple(f.name for f in fields(OfferTerms))


Locked = tuple[LockedLine, OperatorRules] | tuple[LockedLine, OperatorRules, OfferTerms | None]


@lru_cache(maxsize=8)
def _lock_statement(with_offer: bool, requests: Table | None = None):
    """Built once per shape: the hot paths pay for no statement construction, only the cached compiled form.
    `requests` is a table of idempotent requests (principal, idempotency_key): the earlier request with this
    key, if any, comes back in the same round trip as `line.earlier_id`."""
    columns = [*(_LINES.c[name] for name in _LINE_STATE),
               *(_OPERATORS.c[name].label(f"operator__{name}") for name in _OPERATOR_RULES)]
    joined = _LINES.join(_OPERATORS, _OPERATORS.c.id == _LINES.c.operator_id)
    if with_offer:
        columns += [_OFFERS.c[name].label(f"offer__{name}") for name in _OFFER_TERMS]
        joined = joined.outerjoin(_OFFERS, (_OFFERS.c.id == bindparam("offer_id"))
                                  & (_OFFERS.c.operator_id == _LINES.c.operator_id))
    if requests is not None:
        columns.append(requests.c.id.label("earlier_id"))
        joined = joined.outerjoin(requests, (requests.c.principal == bindparam("principal"))
                                  & (requests.c.idempotency_key == bindparam("key")))
    return (select(*columns).select_from(joined)
            .where(_LINES.c.msisdn == bindparam("msisdn"), _LINES.c.state != AVAILABLE)
            .with_for_update(of=_LINES))


def lock_live(session: Session, msisdn: str, offer_id: str | None = None,
              request: tuple[Table, str, str] | None = None) -> Locked | None:
    """Lock the number's live line and read its operator (and an offer of that operator, and an earlier request
    with the same idempotency key) in one round trip. Every money path on a line starts here, so concurrent
    top-ups and charges of one line serialise. Returns (line, operator[, offer]) as typed rows; offer is None
    when it is not the operator's.

    The earlier request is read in the statement's snapshot: one committed while this statement waited for the
    lock is not seen, and the insert then meets the UNIQUE key (the caller retries and replays it)."""
    params = {"msisdn": msisdn}
    if offer_id is not None:
        params["offer_id"] = offer_id
    table = None
    if request is not None:
        table, params["principal"], params["key"] = request
    row = session.connection().execute(_lock_statement(offer_id is not None, table), params).first()
    if row is None:
        return None
    values = row._mapping
    line = LockedLine(**{name: values[name] for name in _LINE_STATE}, earlier_id=values.get("earlier_id"))
    operator = OperatorRules(**{name: values[f"operator__{name}"] for name in _OPERATOR_RULES})
    if offer_id is None:
        return line, operator
    if values["offer__id"] is None:
        return line, operator, None
    return line, operator, OfferTerms(**{name: values[f"offer__{name}"] for name in _OFFER_TERMS})


def ever_held(session: Session, msisdn: str) -> bool:
    return session.scalars(select(exists().where(Line.msisdn == msisdn))).one()


_SAVE_VALIDITY = (update(_LINES).where(_LINES.c.id == bindparam("line_id"))
                  .values(validity_ends_at=bindparam("validity_ends_at"), number_loss_at=bindparam("number_loss_at"),
                          available_at=bindparam("available_at"), next_sweep_at=bindparam("next_sweep_at"),
                          reminded_offset=None, state=bindparam("state"), state_changed_at=bindparam("state_changed_at")))


def save_validity(session: Session, line_id: uuid.UUID, **values) -> None:
    session.connection().execute(_SAVE_VALIDITY, {"line_id": line_id, **values})


def set_schedule(session: Session, line_id: uuid.UUID, **values) -> None:
    session.execute(update(_LINES).where(_LINES.c.id == line_id).values(**values))


def events(session: Session, line_id: uuid.UUID, before: datetime | None = None, limit: int = 50) -> list[LineEvent]:
    stmt = select(LineEvent).where(LineEvent.line_id == line_id)
    if before is not None:
        stmt = stmt.where(LineEvent.at < before)
    return list(session.scalars(stmt.order_by(LineEvent.at.desc()).limit(limit)))


def email_of(session: Session, line_id: uuid.UUID) -> str | None:
    return session.scalar(select(Line.email).where(Line.id == line_id))


def set_opt_out(session: Session, line_id: uuid.UUID, *, at: datetime | None) -> None:
    session.execute(update(_LINES).where(_LINES.c.id == line_id).values(reminders_opted_out_at=at))


def set_language(session: Session, line_id: uuid.UUID, language: str) -> None:
    session.execute(update(_LINES).where(_LINES.c.id == line_id).values(language=language))


def set_paused_until(session: Session, line_id: uuid.UUID, *, until: datetime | None,
                     sweep_at: datetime | None = None) -> None:
    """Reminders paused until `until` (None: resumed); `sweep_at` brings the line's next sweep to that instant."""
    values: dict = {"reminders_paused_until": until}
    if sweep_at is not None:
        values["next_sweep_at"] = sweep_at
    session.execute(update(_LINES).where(_LINES.c.id == line_id).values(**values))


def all_for_msisdn(session: Session, msisdns: list[str], *, limit: int) -> list[Line]:
    """Every line that held one of these numbers (the live one and former ones), newest first."""
    return list(session.scalars(select(Line).where(Line.msisdn.in_(msisdns))
                                .order_by(Line.created_at.desc(), Line.id.desc()).limit(limit)))


def for_email(session: Session, email: str, *, limit: int) -> list[Line]:
    """Lines whose e-mail is this one, whatever its case (ix_lines_email_lower), newest first."""
    return list(session.scalars(select(Line).where(func.lower(Line.email) == email.lower())
                                .order_by(Line.created_at.desc(), Line.id.desc()).limit(limit)))


def by_ids(session: Session, line_ids: list[uuid.UUID]) -> list[Line]:
    return list(session.scalars(select(Line).where(Line.id.in_(line_ids))
                                .order_by(Line.created_at.desc(), Line.id.desc())))


def add_note(session: Session, row: dict) -> None:
    session.execute(insert(LineNote.__table__), [row])


def notes(session: Session, line_id: uuid.UUID, *, before: datetime | None, limit: int) -> list[LineNote]:
    stmt = select(LineNote).where(LineNote.line_id == line_id)
    if before is not None:
        stmt = stmt.where(LineNote.at <= before)
    return list(session.scalars(stmt.order_by(LineNote.at.desc(), LineNote.id.desc()).limit(limit)))


def events_upto(session: Session, line_id: uuid.UUID, *, before: datetime | None, limit: int) -> list[LineEvent]:
    """State changes at or before `before` (a timeline page's cursor instant included), newest first."""
    stmt = select(LineEvent).where(LineEvent.line_id == line_id)
    if before is not None:
        stmt = stmt.where(LineEvent.at <= before)
    return list(session.scalars(stmt.order_by(LineEvent.at.desc(), LineEvent.id.desc()).limit(limit)))
