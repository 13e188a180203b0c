from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from simkeep.db import insert_or_ignore, rowcount
from simkeep.payment.models import InboxEvent, PaymentAttempt, Refund

_ATTEMPTS = PaymentAttempt.__table__


def by_checkout_key(session: Session, key: str) -> PaymentAttempt | None:
    return session.scalars(select(PaymentAttempt).where(PaymentAttempt.checkout_key == key)).first()


def get(session: Session, attempt_id: uuid.UUID, *, for_update: bool = False) -> PaymentAttempt | None:
    # populate_existing: after a Core UPDATE in this session, the identity map still holds the old row.
    stmt = select(PaymentAttempt).where(PaymentAttempt.id == attempt_id).execution_options(populate_existing=True)
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def get_one(session: Session, attempt_id: uuid.UUID, *, for_update: bool = False) -> PaymentAttempt:
    """An attempt that must exist (a refund's, a settled review item's): NoResultFound otherwise."""
    stmt = select(PaymentAttempt).where(PaymentAttempt.id == attempt_id).execution_options(populate_existing=True)
    return session.scalars(stmt.with_for_update() if for_update else stmt).one()


def by_provider_ref(session: Session, provider: str, ref: str) -> PaymentAttempt | None:
    return session.scalars(select(PaymentAttempt).where(PaymentAttempt.provider == provider,
                                                        PaymentAttempt.provider_ref == ref).with_for_update()).first()


def change_if(session: Session, attempt_id: uuid.UUID, *, status_in: tuple[str, ...], **values) -> bool:
    """A guarded change: only while the attempt is in one of `status_in`; False when it moved on meanwhile."""
    return rowcount(session.execute(update(_ATTEMPTS).where(_ATTEMPTS.c.id == attempt_id,
                                                            _ATTEMPTS.c.status.in_(status_in)).values(**values))) == 1


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


def recent_for_number(session: Session, msisdn: str, limit: int) -> list[PaymentAttempt]:
    return list(session.scalars(select(PaymentAttempt).where(PaymentAttempt.msisdn == msisdn)
                                .order_by(PaymentAttempt.created_at.desc()).limit(limit)))


def recent_for_line(session: Session, line_id, limit: int = 10) -> list[PaymentAttempt]:
    return list(session.scalars(select(PaymentAttempt).where(PaymentAttempt.line_id == line_id)
                                .order_by(PaymentAttempt.created_at.desc()).limit(limit)))


def with_status(session: Session, status: str, *, provider: str | None = None, currency: str | None = None,
                created_before: datetime | None = None, updated_from: datetime | None = None,
                updated_before: datetime | None = None, limit: int = 500) -> list[PaymentAttempt]:
    stmt = select(PaymentAttempt).where(PaymentAttempt.status == status)
    for column, value in ((PaymentAttempt.provider, provider), (PaymentAttempt.currency, currency)):
        if value is not None:
            stmt = stmt.where(column == value)
    if created_before is not None:
        stmt = stmt.where(PaymentAttempt.created_at < created_before)
    if updated_from is not None:
        stmt = stmt.where(PaymentAttempt.updated_at >= updated_from)
    if updated_before is not None:
        stmt = stmt.where(PaymentAttempt.updated_at < updated_before)
    return list(session.scalars(stmt.order_by(PaymentAttempt.created_at).limit(limit)))


def refunded_minor(session: Session, attempt_id: uuid.UUID) -> int:
    """What refunds of this payment returned or are returning (pending and succeeded)."""
    # int(): PostgreSQL sums a BIGINT column as NUMERIC.
    return int(session.scalars(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.attempt_id == attempt_id, Refund.status.in_(("pending", "succeeded")))).one())


def refund_by_key(session: Session, key: str) -> Refund | None:
    return session.scalars(select(Refund).where(Refund.idempotency_key == key)).first()


def refunds_of(session: Session, attempt_id: uuid.UUID) -> list[Refund]:
    return list(session.scalars(select(Refund).where(Refund.attempt_id == attempt_id).order_by(Refund.created_at)))


def transfers_started(session: Session, line_id, *, since: datetime, before: datetime) -> int:
    """The line's bank transfer attempts created from `since` until just before `before`."""
    return session.execute(select(func.count()).select_from(_ATTEMPTS).where(
        _ATTEMPTS.c.line_id == line_id, _ATTEMPTS.c.method == "bank_transfer", _ATTEMPTS.c.created_at >= since,
        _ATTEMPTS.c.created_at < before)).scalar_one()


def for_line_upto(session: Session, line_id, *, upto: datetime | None, limit: int) -> list[PaymentAttempt]:
    """The line's payment attempts created at or before `upto`, newest first (a back-office timeline page)."""
    stmt = select(PaymentAttempt).where(PaymentAttempt.line_id == line_id)
    if upto is not None:
        stmt = stmt.where(PaymentAttempt.created_at <= upto)
    return list(session.scalars(stmt.order_by(PaymentAttempt.created_at.desc(), PaymentAttempt.id.desc()).limit(limit)))


def refunds_for_line_upto(session: Session, line_id, *, upto: datetime | None, limit: int) -> list[Refund]:
    stmt = (select(Refund).join(PaymentAttempt, PaymentAttempt.id == Refund.attempt_id)
            .where(PaymentAttempt.line_id == line_id))
    if upto is not None:
        stmt = stmt.where(Refund.created_at <= upto)
    return list(session.scalars(stmt.order_by(Refund.created_at.desc(), Refund.id.desc()).limit(limit)))


def ids_for_line(session: Session, line_id) -> list[uuid.UUID]:
    return list(session.scalars(select(PaymentAttempt.id).where(PaymentAttempt.line_id == line_id)))


def by_reference(session: Session, references: list[str], *, limit: int) -> list[PaymentAttempt]:
    """Attempts whose provider reference is one of these, whichever the provider (ix_payment_attempts_provider_ref)."""
    return list(session.scalars(select(PaymentAttempt).where(PaymentAttempt.provider_ref.in_(references))
                                .order_by(PaymentAttempt.created_at.desc(), PaymentAttempt.id.desc()).limit(limit)))
