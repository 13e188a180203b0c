from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from simkeep.db import insert_or_ignore
from simkeep.payment.models import InboxEvent, PaymentAttempt

_ATTEMPTS = PaymentAttempt.__table__


def by_checkout_key(session: Session, key: str) -> PaymentAttempt | None:
    return session.scalars(select(PaymentAttempt).where(PaymentAttempt.checkout_key == key)).first()


def get(session: Session, attempt_id: uuid.UUID, *, for_update: bool = False) -> PaymentAttempt | None:
    stmt = select(PaymentAttempt).where(PaymentAttempt.id == attempt_id)
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def get_one(session: Session, attempt_id: uuid.UUID) -> PaymentAttempt:
    """An attempt that must exist (a refund's, a settled review item's): NoResultFound otherwise."""
    return session.scalars(select(PaymentAttempt).where(PaymentAttempt.id == attempt_id)).one()


def by_provider_ref(session: Session, provider: str, ref: str) -> PaymentAttempt | None:
    return session.scalars(select(PaymentAttempt).where(PaymentAttempt.provider == provider,
                                                        PaymentAttempt.provider_ref == ref).with_for_update()).first()


def add(session: Session, **row) -> None:
    session.execute(insert(_ATTEMPTS), [row])


def change(session: Session, attempt_id: uuid.UUID, **values) -> None:
    session.execute(update(_ATTEMPTS).where(_ATTEMPTS.c.id == attempt_id).values(**values))


def store_event(session: Session, **row) -> bool:
    table = InboxEvent.__table__
    stmt = insert_or_ignore(session, table).returning(table.c.id)
    return session.connection().execute(stmt, row).first() is not None


def claim_events(session: Session, limit: int) -> list[InboxEvent]:
    stmt = (select(InboxEvent).where(InboxEvent.processed_at.is_(None)).order_by(InboxEvent.received_at)
            .limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def mark_processed(session: Session, event_id: uuid.UUID, *, outcome: str, now: datetime) -> None:
    table = InboxEvent.__table__
    session.execute(update(table).where(table.c.id == event_id).values(processed_at=now, outcome=outcome[:200]))


def recent_for_line(session: Session, line_id, limit: int = 10) -> list[PaymentAttempt]:
    return list(session.scalars(select(PaymentAttempt).where(PaymentAttempt.line_id == line_id)
                                .order_by(PaymentAttempt.created_at.desc()).limit(limit)))
