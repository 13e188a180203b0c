from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from simkeep.core.errors import TopUpNotFound
from simkeep.topup.models import TopUp

_TOPUPS = TopUp.__table__
_BY_KEY = select(_TOPUPS.c.id).where(_TOPUPS.c.principal == bindparam("principal"),
                                     _TOPUPS.c.idempotency_key == bindparam("key"))
_INSERT = insert(_TOPUPS)


def find_by_key(session: Session, principal: str, key: str) -> TopUp | None:
    found = session.connection().execute(_BY_KEY, {"principal": principal, "key": key}).scalar()
    return session.get(TopUp, found) if found is not None else None


def add(session: Session, row: dict) -> None:
    session.connection().execute(_INSERT, row)


def get(session: Session, topup_id) -> TopUp:
    try:
        topup = session.get(TopUp, uuid.UUID(str(topup_id)))
    except ValueError:
        topup = None
    if topup is None:
        raise TopUpNotFound()
    return topup


def for_line(session: Session, line_id, *, before: datetime | None, limit: int) -> list[TopUp]:
    stmt = select(TopUp).where(TopUp.line_id == line_id)
    if before is not None:
        stmt = stmt.where(TopUp.created_at < before)
    return list(session.scalars(stmt.order_by(TopUp.created_at.desc()).limit(limit)))


def has_topups(session: Session, line_id) -> bool:
    return session.scalar(select(_TOPUPS.c.id).where(_TOPUPS.c.line_id == line_id).limit(1)) is not None


def ids_for_line(session: Session, line_id) -> list[uuid.UUID]:
    return list(session.scalars(select(TopUp.id).where(TopUp.line_id == line_id)))
