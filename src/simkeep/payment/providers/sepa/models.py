from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime


class BankStatement(Base):
    """An imported ISO 20022 camt.053 statement; the same file (or the same statement id) imports once."""

    __tablename__ = "bank_statements"
    __table_args__ = (UniqueConstraint("account_iban", "statement_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    account_iban: Mapped[str] = mapped_column(String(34))
    statement_id: Mapped[str] = mapped_column(String(35))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BankEntry(Base):
    """One credit on the operator's account, and what became of it."""

    __tablename__ = "bank_entries"
    __table_args__ = (UniqueConstraint("account_iban", "entry_ref"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bank_statements.id"), index=True)
    account_iban: Mapped[str] = mapped_column(String(34))
    entry_ref: Mapped[str] = mapped_column(String(80))  # the bank's own reference: a re-import finds it again
    booked_on: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(String(40))  # the payer's structured reference, RF...
    debtor: Mapped[str | None] = mapped_column(String(140))
    status: Mapped[str] = mapped_column(String(10))  # matched | review | settled
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_attempts.id"))
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
