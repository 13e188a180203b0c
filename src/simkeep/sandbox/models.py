from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime


class SandboxPayment(Base):
    """The sandbox provider's own record: it plays the payment service provider, so it keeps its own state."""

    __tablename__ = "sandbox_payments"
    # Off-session charges are looked up by the merchant's idempotency key (auto-renew asks again after a crash).
    __table_args__ = (Index("ix_sandbox_payments_merchant_ref", "merchant_ref"),)

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_ref: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200))
    return_url: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20))
    transfer_reference: Mapped[str | None] = mapped_column(String(40))
    events: Mapped[int] = mapped_column(Integer)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_refs: Mapped[list] = mapped_column(JsonType, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
