from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime


class Account(Base):
    """A ledger account. Subscriber accounts cache their balance (for guarded debits); system accounts
    (clearing, revenue, expense) do not, because every top-up touching one shared row would serialise."""

    __tablename__ = "ledger_accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3))
    balance_minor: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    # The books of a period (accounting/) read entries in (created_at, id) order, a page at a time.
    __table_args__ = (Index("ix_journal_entries_created_at", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    # Idempotent: the business event that caused the entry ("topup:<id>", "forfeit:<line>:<period>").
    reference: Mapped[str] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Posting(Base):
    __tablename__ = "postings"
    __table_args__ = (Index("ix_postings_account_id", "account_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
