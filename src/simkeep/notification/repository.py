from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from simkeep.core.ids import new_id
from simkeep.db import insert_or_ignore, rowcount
from simkeep.notification.models import FAILED, PENDING, SENT, DeliveryAttempt, InboundMessage, OutboxMessage


def claim_due(session: Session, *, now: datetime, limit: int, lease: timedelta,
              channel: str | None = None) -> list[OutboxMessage]:
    """Lease due messages to this worker (of one `channel` only, if given). A worker that dies mid-send loses its
    lease, and the message is sent again after it expires: at least once, never lost."""
    table = OutboxMessage.__table__
    due = (select(table.c.id).where(table.c.status == PENDING, table.c.next_attempt_at <= now,
                                    or_(table.c.locked_until.is_(None), table.c.locked_until <= now))
           .order_by(table.c.next_attempt_at, table.c.id).limit(limit))  # ties in the order written (UUIDv7)
    if channel is not None:  # inlined, so that PostgreSQL's plan may use the partial index of that channel
        due = due.where(table.c.channel == literal(channel, literal_execute=True))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(update(table).where(table.c.id.in_(ids))
                    .values(locked_until=now + lease, attempts=table.c.attempts + 1))
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)))


def renew_lease(session: Session, ids: list[uuid.UUID], *, held_until: datetime, until: datetime) -> set[uuid.UUID]:
    """Extend the lease on those of `ids` this worker still holds (fenced by the lease end it set: another worker
    that took a message over set a later one); returns the ids renewed."""
    table = OutboxMessage.__table__
    renewed = session.execute(update(table).where(table.c.id.in_(ids), table.c.status == PENDING,
                                                  table.c.locked_until == held_until)
                              .values(locked_until=until).returning(table.c.id))
    return set(renewed.scalars())


def release(session: Session, ids: list[uuid.UUID], *, held_until: datetime) -> int:
    """Hand back leased messages that were not tried (the worker is stopping): due again at once, and the attempt
    counted by the lease is taken back."""
    table = OutboxMessage.__table__
    return rowcount(session.execute(update(table).where(table.c.id.in_(ids), table.c.status == PENDING,
                                                        table.c.locked_until == held_until)
                                    .values(locked_until=None, attempts=table.c.attempts - 1)))


def mark_sent(session: Session, message_id: uuid.UUID, *, external_id: str | None = None, now: datetime) -> bool:
    """False if it was already marked sent (a retried record whose first commit did get through)."""
    table = OutboxMessage.__table__
    return rowcount(session.execute(update(table).where(table.c.id == message_id, table.c.status != SENT)
                                    .values(status=SENT, sent_at=now, locked_until=None, last_error=None,
                                            external_id=external_id))) == 1


def redact(session: Session, message_id: uuid.UUID, payload: dict) -> None:
    session.execute(update(OutboxMessage.__table__).where(OutboxMessage.__table__.c.id == message_id)
                    .values(payload=payload))


def mark_retry(session: Session, message_id: uuid.UUID, *, error: str, at: datetime) -> None:
    session.execute(update(OutboxMessage.__table__).where(OutboxMessage.__table__.c.id == message_id)
                    .values(next_attempt_at=at, locked_until=None, last_error=error[:2000]))


def mark_failed(session: Session, message_id: uuid.UUID, *, error: str) -> None:
    session.execute(update(OutboxMessage.__table__).where(OutboxMessage.__table__.c.id == message_id)
                    .values(status=FAILED, locked_until=None, last_error=error[:2000]))


def log_attempt(session: Session, message_id: uuid.UUID, *, attempt: int, outcome: str, detail: str | None,
                now: datetime) -> None:
    session.execute(insert(DeliveryAttempt.__table__), [dict(
        id=new_id(), message_id=message_id, attempt=attempt, outcome=outcome,
        detail=(detail or "")[:2000] or None, at=now)])


def delivery_log(session: Session, message_id) -> list[DeliveryAttempt]:
    return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)
                                .order_by(DeliveryAttempt.at, DeliveryAttempt.attempt)))


def recent(session: Session, *, status: str | None, limit: int) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    return list(session.scalars(stmt))


def for_line(session: Session, line_id, *, before: datetime | None, limit: int) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.line_id == line_id)
    if before is not None:
        stmt = stmt.where(OutboxMessage.created_at < before)
    return list(session.scalars(stmt.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)))


def get(session: Session, message_id: uuid.UUID) -> OutboxMessage:
    return session.get_one(OutboxMessage, message_id)


def by_external_id(session: Session, external_id: str) -> OutboxMessage | None:
    return session.scalars(select(OutboxMessage).where(OutboxMessage.external_id == external_id)).first()


def set_receipt(session: Session, message_id: uuid.UUID, *, status: str, at: datetime) -> None:
    session.execute(update(OutboxMessage.__table__).where(OutboxMessage.__table__.c.id == message_id)
                    .values(receipt_status=status[:20], receipt_at=at))


def add_inbound(session: Session, *, sender: str, text: str, outcome: str, now: datetime,
                external_id: str | None = None, line_id: uuid.UUID | None = None) -> uuid.UUID | None:
    """The row's id, or None if a message with this external id is stored already (ON CONFLICT DO NOTHING: a
    racing twin waits for the first one's transaction, then finds it)."""
    table = InboundMessage.__table__
    return session.connection().execute(insert_or_ignore(session, table).returning(table.c.id), dict(
        id=new_id(), sender=sender[:20], text=text, received_at=now, outcome=outcome, external_id=external_id,
        line_id=line_id)).scalar()


def inbound_known(session: Session, external_ids: list[str]) -> bool:
    return session.scalars(select(InboundMessage.id).where(InboundMessage.external_id.in_(external_ids))).first() \
        is not None


def set_inbound_outcome(session: Session, inbound_id: uuid.UUID, outcome: str) -> None:
    session.execute(update(InboundMessage.__table__).where(InboundMessage.__table__.c.id == inbound_id)
                    .values(outcome=outcome[:60]))


def inbound_for_line(session: Session, line_id, *, before: datetime | None, limit: int) -> list[InboundMessage]:
    stmt = select(InboundMessage).where(InboundMessage.line_id == line_id)
    if before is not None:
        stmt = stmt.where(InboundMessage.received_at < before)
    return list(session.scalars(stmt.order_by(InboundMessage.received_at.desc()).limit(limit)))


def by_dedup_key(session: Session, dedup_key: str) -> OutboxMessage | None:
    return session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key)).first()


def pending_by_channel(session: Session) -> list[tuple[str, int, datetime]]:
    """(channel, pending messages, earliest next attempt) per channel: an index-only walk of ix_outbox_pending,
    which holds the pending rows alone however many were sent."""
    table = OutboxMessage.__table__
    return [(channel, count, earliest) for channel, count, earliest in session.execute(
        select(table.c.channel, func.count(), func.min(table.c.next_attempt_at))
        .where(table.c.status == PENDING).group_by(table.c.channel).order_by(table.c.channel))]
