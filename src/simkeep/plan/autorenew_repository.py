"""Queries of auto-renew: settings, saved methods, charges (only plan.autorenew calls these)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from simkeep.db import insert_or_ignore, rowcount
from simkeep.line.models import RENEWABLE, Line
from simkeep.plan.autorenew_models import AutoRenewCharge, AutoRenewSetting, SavedMethod

_SETTINGS, _METHODS, _CHARGES, _LINES = (AutoRenewSetting.__table__, SavedMethod.__table__,
                                         AutoRenewCharge.__table__, Line.__table__)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An enabled line whose renewal may be due, with what a charge needs."""

    line_id: uuid.UUID
    msisdn: str
    language: str
    offer_id: str
    mode: str
    days_before: int
    method_id: uuid.UUID
    validity_ends_at: datetime
    number_loss_at: datetime


def candidates(session: Session, *, now: datetime, after: uuid.UUID | None, limit: int, horizon: timedelta,
               lowest_cost_lead: timedelta) -> list[Candidate]:
    """Enabled, renewable lines in line-id order after `after` (a keyset page), whose validity ends within
    `horizon` or whose number-loss date is within `lowest_cost_lead`: a superset of the due ones."""
    s, li = _SETTINGS.c, _LINES.c
    stmt = (select(s.line_id, li.msisdn, li.language, s.offer_id, s.mode, s.days_before, s.method_id,
                   li.validity_ends_at, li.number_loss_at)
            .select_from(_SETTINGS.join(_LINES, _LINES.c.id == s.line_id))
            .where(s.enabled.is_(True), li.state.in_(RENEWABLE), li.number_loss_at > now,
                   (li.validity_ends_at <= now + horizon) | (li.number_loss_at <= now + lowest_cost_lead))
            .order_by(s.line_id).limit(limit))
    if after is not None:
        stmt = stmt.where(s.line_id > after)
    return [Candidate(*row) for row in session.execute(stmt)]


def insert_charge(session: Session, row: dict) -> bool:
    """The charge for (line, period), or False when one exists: a racing worker or a rerun creates nothing."""
    stmt = insert_or_ignore(session, _CHARGES).returning(_CHARGES.c.id)
    return session.connection().execute(stmt, row).first() is not None


def charge(session: Session, charge_id: uuid.UUID, *, for_update: bool = False) -> AutoRenewCharge | None:
    stmt = (select(AutoRenewCharge).where(AutoRenewCharge.id == charge_id)
            .execution_options(populate_existing=True))
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def charge_by_attempt(session: Session, attempt_id: uuid.UUID) -> AutoRenewCharge | None:
    return session.scalars(select(AutoRenewCharge).where(AutoRenewCharge.attempt_id == attempt_id)
                           .with_for_update()).first()


def charges_of(session: Session, line_id: uuid.UUID, *, limit: int = 20) -> list[AutoRenewCharge]:
    return list(session.scalars(select(AutoRenewCharge).where(AutoRenewCharge.line_id == line_id)
                                .order_by(AutoRenewCharge.created_at.desc()).limit(limit)))


def claim(session: Session, *, states: tuple[str, ...], due_column: str, before: datetime,
          limit: int) -> list[AutoRenewCharge]:
    """Charges in `states` whose `due_column` is at or before `before`, locked; on PostgreSQL skipping those
    another worker holds."""
    column = getattr(AutoRenewCharge, due_column)
    stmt = (select(AutoRenewCharge).where(AutoRenewCharge.state.in_(states), column <= before)
            .order_by(column).limit(limit).with_for_update(
                skip_locked=session.get_bind().dialect.name == "postgresql")
            .execution_options(populate_existing=True))
    return list(session.scalars(stmt))


def change_charge(session: Session, charge_id: uuid.UUID, **values) -> None:
    session.execute(update(_CHARGES).where(_CHARGES.c.id == charge_id).values(**values))


def change_charge_if(session: Session, charge_id: uuid.UUID, *, state_in: tuple[str, ...], **values) -> bool:
    return rowcount(session.execute(update(_CHARGES).where(_CHARGES.c.id == charge_id,
                                                           _CHARGES.c.state.in_(state_in)).values(**values))) == 1


def open_charges_of(session: Session, line_id: uuid.UUID, states: tuple[str, ...]) -> list[AutoRenewCharge]:
    return list(session.scalars(select(AutoRenewCharge).where(AutoRenewCharge.line_id == line_id,
                                                              AutoRenewCharge.state.in_(states)).with_for_update()))


def setting(session: Session, line_id: uuid.UUID, *, for_update: bool = False) -> AutoRenewSetting | None:
    stmt = (select(AutoRenewSetting).where(AutoRenewSetting.line_id == line_id)
            .execution_options(populate_existing=True))
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def put_setting(session: Session, row: dict) -> None:
    changed = session.execute(update(_SETTINGS).where(_SETTINGS.c.line_id == row["line_id"])
                              .values(**{k: v for k, v in row.items() if k not in ("line_id", "created_at")}))
    if rowcount(changed) == 0:
        session.execute(insert(_SETTINGS), [row])


def disable(session: Session, line_id: uuid.UUID, *, by: str, now: datetime) -> bool:
    """Off, if it was on; False when there was nothing to turn off."""
    return rowcount(session.execute(update(_SETTINGS).where(_SETTINGS.c.line_id == line_id,
                                                            _SETTINGS.c.enabled.is_(True))
                                    .values(enabled=False, changed_by=by, changed_at=now))) == 1


def add_method(session: Session, row: dict) -> None:
    session.execute(insert(_METHODS), [row])


def method(session: Session, method_id: uuid.UUID) -> SavedMethod | None:
    return session.get(SavedMethod, method_id)


def methods_of(session: Session, line_id: uuid.UUID) -> list[SavedMethod]:
    return list(session.scalars(select(SavedMethod).where(SavedMethod.line_id == line_id,
                                                          SavedMethod.removed_at.is_(None))
                                .order_by(SavedMethod.created_at)))
