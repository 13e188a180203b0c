"""Queries for imported bank statements and their entries."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from simkeep.db import insert_or_ignore
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.providers.sepa.models import BankEntry, BankStatement

_STATEMENTS = BankStatement.__table__
_ENTRIES = BankEntry.__table__


def lock_account(session: Session, iban: str) -> None:
    """Imports into one account run one at a time (PostgreSQL; SQLite write transactions already do)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"bank:{iban}".encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def file_known(session: Session, sha256: str) -> bool:
    return session.scalars(select(func.count()).select_from(_STATEMENTS)
                           .where(_STATEMENTS.c.file_sha256 == sha256)).one() > 0


def add_statement(session: Session, **row) -> bool:
    """False when the file or the (account, statement id) was imported before; waits for a concurrent import."""
    stmt = insert_or_ignore(session, _STATEMENTS).returning(_STATEMENTS.c.id)
    return session.connection().execute(stmt, row).first() is not None


def add_entry(session: Session, **row) -> bool:
    """False when this account already has an entry with this reference."""
    stmt = insert_or_ignore(session, _ENTRIES).returning(_ENTRIES.c.id)
    return session.connection().execute(stmt, row).first() is not None


def entries_with_ref(session: Session, iban: str, entry_ref: str) -> list[BankEntry]:
    """The entry with this reference and the ones stored under it when the bank reused it ("ref@statement")."""
    return list(session.scalars(select(BankEntry).where(
        BankEntry.account_iban == iban,
        (BankEntry.entry_ref == entry_ref) | BankEntry.entry_ref.startswith(f"{entry_ref}@", autoescape=True))))


def change_entry(session: Session, entry_id: uuid.UUID, **values) -> None:
    session.execute(update(_ENTRIES).where(_ENTRIES.c.id == entry_id).values(**values))


def get_entry(session: Session, entry_id: uuid.UUID, *, for_update: bool = False) -> BankEntry | None:
    stmt = select(BankEntry).where(BankEntry.id == entry_id).execution_options(populate_existing=True)
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def matched_entry_for(session: Session, attempt_id: uuid.UUID) -> BankEntry | None:
    return session.scalars(select(BankEntry).where(BankEntry.attempt_id == attempt_id,
                                                   BankEntry.status == "matched")).first()


def matched_by_reference(session: Session, reference: str) -> BankEntry | None:
    return session.scalars(select(BankEntry).where(BankEntry.reference == reference, BankEntry.status == "matched")
                           .order_by(BankEntry.created_at)).first()


def entries(session: Session, *, status: str | None, limit: int) -> list[BankEntry]:
    stmt = select(BankEntry).order_by(BankEntry.booked_on.desc(), BankEntry.created_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(BankEntry.status == status)
    return list(session.scalars(stmt))


def totals(session: Session, *, status: str, booked_on: date | None) -> dict[str, tuple[int, int]]:
    stmt = (select(BankEntry.currency, func.count(), func.sum(BankEntry.amount_minor))
            .where(BankEntry.status == status).group_by(BankEntry.currency))
    if booked_on is not None:
        stmt = stmt.where(BankEntry.booked_on == booked_on)
    return {currency: (n, int(total)) for currency, n, total in session.execute(stmt)}


def attempt_for_reference(session: Session, provider: str, reference: str) -> PaymentAttempt | None:
    """The payment attempt a transfer's reference names, locked: two statements paying one order are decided one
    after the other. (A read of the payment domain's table: payment.service has no such lookup yet.)"""
    return session.scalars(select(PaymentAttempt).where(PaymentAttempt.provider == provider,
                                                        PaymentAttempt.provider_ref == reference)
                           .with_for_update().execution_options(populate_existing=True)).first()
