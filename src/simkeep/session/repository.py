"""Queries on web_sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from simkeep.db import rowcount
from simkeep.session.models import WebSession


def by_token_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))


def insert(session: Session, row: WebSession) -> None:
    session.add(row)
    session.flush()


def update_row(session: Session, row_id: uuid.UUID, **values) -> bool:
    """False when the row is gone (ended or rotated by a concurrent request): it is never brought back."""
    return rowcount(session.execute(update(WebSession).where(WebSession.id == row_id).values(**values))) == 1


def delete_row(session: Session, row_id: uuid.UUID) -> bool:
    return rowcount(session.execute(delete(WebSession).where(WebSession.id == row_id))) == 1


def delete_for_staff(session: Session, staff_id: uuid.UUID, *, keep: uuid.UUID | None = None,
                     only: uuid.UUID | None = None) -> int:
    query = delete(WebSession).where(WebSession.staff_id == staff_id)
    if keep is not None:
        query = query.where(WebSession.id != keep)
    if only is not None:
        query = query.where(WebSession.id == only)
    return rowcount(session.execute(query))


def live_for_staff(session: Session, staff_id: uuid.UUID, now: datetime) -> list[WebSession]:
    return list(session.scalars(select(WebSession).where(WebSession.staff_id == staff_id,
                                                         WebSession.idle_expires_at > now,
                                                         WebSession.expires_at > now)
                                .order_by(WebSession.last_seen_at.desc())))


def delete_expired(session: Session, now: datetime, limit: int) -> int:
    doomed = select(WebSession.id).where(or_(WebSession.idle_expires_at <= now, WebSession.expires_at <= now)).limit(limit)
    return rowcount(session.execute(delete(WebSession).where(WebSession.id.in_(doomed))
                                    .execution_options(synchronize_session=False)))


def live_counts_by_staff(session: Session, now: datetime) -> dict[uuid.UUID, int]:
    rows = session.execute(select(WebSession.staff_id, func.count()).where(
        WebSession.staff_id.is_not(None), WebSession.idle_expires_at > now, WebSession.expires_at > now)
        .group_by(WebSession.staff_id))
    return {staff_id: count for staff_id, count in rows if staff_id is not None}
