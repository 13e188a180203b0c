from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime

PENDING, SENT, FAILED = "pending", "sent", "failed"


class OutboxMessage(Base):
    """A message written in the business transaction, delivered at least once by the worker.
    `id` is the stable message id receivers deduplicate on; `dedup_key` makes 'send once' a constraint."""

    __tablename__ = "outbox"
    # USSD answers are claimed on their own (notification.tasks.deliver_due): a small partial index finds them
    # without walking a backlog of due SMS.
    # ix_outbox_pending: the pending messages alone, by channel, so that /metrics counts the queue from a small index
    # (sent messages accumulate; the pending ones stay few).
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_ussd_due", "status", "next_attempt_at", sqlite_where=text("channel = 'ussd'"),
                            postgresql_where=text("channel = 'ussd'")),
                      # The dashboard's reminder conversion: reminders sent over a period.
                      Index("ix_outbox_reminders", "created_at", sqlite_where=text("topic = 'reminder'"),
                            postgresql_where=text("topic = 'reminder'")),
                      Index("ix_outbox_pending", "channel", "next_attempt_at", sqlite_where=text("status = 'pending'"),
                            postgresql_where=text("status = 'pending'")))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    topic: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8))
    line_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lines.id"), index=True)
    payload: Mapped[dict] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # What the SMSC (or mail server) called the message, and its delivery receipt.
    external_id: Mapped[str | None] = mapped_column(String(80), index=True)
    receipt_status: Mapped[str | None] = mapped_column(String(20))
    receipt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The web request that wrote it (X-Request-Id): the worker logs its delivery under the same id.
    request_id: Mapped[str | None] = mapped_column(String(64))


class WebhookEndpoint(Base):
    """An operator system that receives signed events (topup.completed, payment.refunded, line.state_changed)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    secret: Mapped[str] = mapped_column(String(120))  # used to sign, so kept (not hashed); shown once
    topics: Mapped[list] = mapped_column(JsonType)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeliveryAttempt(Base):
    """The delivery log: every try of every outbound message, with the receiver's answer."""

    __tablename__ = "delivery_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(10))  # sent | retry | failed
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class InboundMessage(Base):
    """An SMS a subscriber sent us (a STOP, a SOLDE, a RECHARGE with its PIN masked) and what we did with it.
    `external_id` (the SMSC's id for it, or a content digest) is UNIQUE: a redelivered message is stored, and
    acted on, once."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_line", "line_id", "received_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sender: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(String(1000))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(60))
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    line_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lines.id"))
