from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime

METHODS = ("card", "paypal", "bank_transfer", "wechat_pay", "alipay")
CREATED, PENDING, SUCCEEDED, FAILED, REVIEW = "created", "pending", "succeeded", "failed", "review"
# Closed without money: the payer never completed it (cancelled at the provider after its expiry), or staff
# dismissed it from review. Closed with money sent back: refunded from review. A success event still credits an
# abandoned or dismissed attempt (money moved after all); nothing changes a refunded one.
ABANDONED, DISMISSED, REFUNDED = "abandoned", "dismissed", "refunded"
OPEN = (CREATED, PENDING)  # waiting for the payer or the provider
FINAL = (SUCCEEDED, REVIEW, REFUNDED)


class PaymentAttempt(Base):
    """One try at paying for one renewal. Recorded before the provider is called; its outcome arrives by webhook."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"), Index("ix_payment_attempts_line", "line_id"),
        # The dashboard (report.service): payment methods of top-ups, success rates over a period, and the age of
        # the open review items (a small partial index: the queue is a handful of rows among millions).
        Index("ix_payment_attempts_topup", "topup_id"),
        Index("ix_payment_attempts_created_at", "created_at"),
        Index("ix_payment_attempts_in_review", "updated_at", sqlite_where=text("status = 'review'"),
              postgresql_where=text("status = 'review'")),
        # provider_ref alone too: the back office finds a payment by the reference a customer quotes, provider unknown.
        Index("ix_payment_attempts_provider_ref", "provider_ref"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # The wizard's one-time token: a double-click or a reload of "confirm" finds this attempt again.
    checkout_key: Mapped[str] = mapped_column(String(64), unique=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    next_action: Mapped[dict | None] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(10))
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    topup_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("topups.id"))
    receipt_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    quote_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the quote this payment pays (its budget is held)
    # The top-up channel the credit goes through (None: "portal", the wizard's); "auto_renew" for auto-renew charges.
    channel: Mapped[str | None] = mapped_column(String(16))


class InboxEvent(Base):
    """A provider webhook, stored once per (provider, event id) and handled by the worker."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (UniqueConstraint("provider", "event_id"), Index("ix_webhook_inbox_pending", "processed_at"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict] = mapped_column(JsonType)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(200))


class Refund(Base):
    """Money going back to the payer. The subscriber's credit is taken back before the provider is called, so a
    refund in flight can never be spent; a refused refund gives it back."""

    __tablename__ = "refunds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_attempts.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))  # pending | succeeded | failed
    provider_ref: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(80))
    # The line's validity before a full refund of unused credit shortened it; restored if the provider refuses.
    previous_validity_ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
