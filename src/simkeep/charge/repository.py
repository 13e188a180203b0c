from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from simkeep.charge.models import Charge

_CHARGES = Charge.__table__
_BY_KEY = select(_CHARGES.c.id).where(_CHARGES.c.principal == bindparam("principal"),
                                 _CHARGES.c.idempotency_key == bindparam("key"))
_INSERT = insert(_CHARGES)


def find_by_key(session: Session, principal: str, key: str) -> Charge | None:
    found = session.connection().execute(_BY_KEY, {"principal": principal, "key": key}).scalar()
    return session.get(Charge, found) if found is not None else None


def get(session: Session, charge_id) -> Charge:
    return session.get_one(Charge, charge_id)


def add(session: Session, row: dict) -> None:
    session.connection().execute(_INSERT, row)


def for_line(session: Session, line_id, *, before: datetime | None, limit: int) -> list[Charge]:
    stmt = select(Charge).where(Charge.line_id == line_id)
    if before is not None:
        stmt = stmt.where(Charge.created_at < before)
    return list(session.scalars(stmt.order_by(Charge.created_at.desc()).limit(limit)))
