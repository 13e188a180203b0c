"""Queries on audit_log. Only inserts and reads: nothing here (or anywhere) updates or deletes an entry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, insert, or_, select, text
from sqlalchemy.orm import Session

from simkeep.audit.models import AuditEntry

# pg_advisory_xact_lock's key for "appending to the audit chain": any fixed 64-bit number no other lock uses
# ('simkeep audit' folded into a bigint); grep it before reusing.
CHAIN_LOCK_KEY = 0x73696D6B61756474


@dataclass(frozen=True)
class Filters:
    """What the back-office list and `simkeep audit list` narrow by; None means any."""

    actor: str | None = None
    action: str | None = None  # "refund.requested", or a prefix before a dot: "voucher" for every voucher.* action
    subject: str | None = None  # a subject's id (a line's UUID, a store's code...)
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def lock_chain(session: Session) -> None:
    """Serialise appends until this transaction ends. PostgreSQL: a transaction-level advisory lock (released at
    commit or rollback, never leaks). SQLite allows one writer at a time already (write sessions BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


def head(session: Session) -> tuple[int, str] | None:
    """(seq, hash) of the last entry, or None for an empty log."""
    row = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else None


def append(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(AuditEntry.__table__), rows)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def newest_first(session: Session, filters: Filters, *, before_seq: int | None, limit: int) -> list[AuditEntry]:
    query = select(AuditEntry).where(*_conditions(filters)).order_by(AuditEntry.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    return list(session.scalars(query))


def oldest_first(session: Session, filters: Filters, *, page_size: int) -> Iterator[Sequence[Row[Any]]]:
    """Matching entries by seq, a page at a time, as plain rows with the entry's attributes (keyset on seq: each
    page one index range scan, constant memory however long the log; no ORM identity map to fill)."""
    table = AuditEntry.__table__
    after = 0
    while True:
        page = session.execute(select(table).where(*_conditions(filters), table.c.seq > after)
                               .order_by(table.c.seq).limit(page_size)).all()
        if not page:
            return
        yield page
        after = page[-1].seq


def for_subject(session: Session, subject_type: str, subject_id: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.subject_type == subject_type,
                                                         AuditEntry.subject_id == subject_id)
                                .order_by(AuditEntry.seq)))


def for_subjects(session: Session, subjects: dict[str, list[str]], *, upto: datetime | None,
                 limit: int) -> list[AuditEntry]:
    wanted = [and_(AuditEntry.subject_type == kind, AuditEntry.subject_id.in_(ids)) for kind, ids in subjects.items()]
    query = select(AuditEntry).where(or_(*wanted))
    if upto is not None:
        query = query.where(AuditEntry.at <= upto)
    return list(session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.actor:
        conditions.append(AuditEntry.actor == filters.actor)
    if filters.action:
        conditions.append((AuditEntry.action == filters.action)
                          | AuditEntry.action.startswith(filters.action.rstrip(".") + ".", autoescape=True))
    if filters.subject:
        conditions.append(AuditEntry.subject_id == filters.subject)
    if filters.since:
        conditions.append(AuditEntry.at >= filters.since)
    if filters.until:
        conditions.append(AuditEntry.at < filters.until)
    return conditions
