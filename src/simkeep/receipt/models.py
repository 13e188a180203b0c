from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime


class ReceiptCounter(Base):
    """Receipt numbers run in sequence per operator and year; the row lock makes the sequence gap-free."""

    __tablename__ = "receipt_counters"

    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class Receipt(Base):
    __tablename__ = "receipts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    topup_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("topups.id"), unique=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"), index=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    offer_id: Mapped[str] = mapped_column(String(80))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_method: Mapped[str] = mapped_column(String(16))
    validity_ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    language: Mapped[str] = mapped_column(String(8))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the sale was voided: the receipt says so
    # Where it was issued, when a person at a counter issued it: {"store", "address", "agent"} as printed then
    # (receipt.service.Issuer). Kept on the receipt, so the receipt never asks the store domain, which sits above it.
    issuer: Mapped[dict | None] = mapped_column(JsonType)


class ReceiptPdf(Base):
    """A receipt's PDF in one layout ("a4" or "thermal", the 80 mm roll), rendered once (receipt/pdf.py) and served
    from here: rendering is costly and the link is public, so it must not run per request. `verify_url` is the link
    printed in it and `voided` whether it says VOID: a new receipt key or public URL, or a void, makes the stored
    copy stale, and the next request renders it again once."""

    __tablename__ = "receipt_pdfs"

    receipt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("receipts.id"), primary_key=True)
    layout: Mapped[str] = mapped_column(String(8), primary_key=True)
    verify_url: Mapped[str] = mapped_column(String(500))
    voided: Mapped[bool] = mapped_column(Boolean)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    rendered_at: Mapped[datetime] = mapped_column(UtcDateTime)
