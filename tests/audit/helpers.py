"""Audit entries for tests, and tampering with them as someone who can switch the append-only triggers off."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from simkeep.audit import service
from simkeep.audit.models import AuditEntry
from simkeep.db import Database
from tests.conftest import T0


def record_three(db: Database) -> list[AuditEntry]:
    """Three entries, a minute apart from T0, returned in chain order."""
    subjects = ["0192f0c4-0000-7000-8000-000000000001", "0192f0c4-0000-7000-8000-000000000002"]
    with db.transaction() as session:
        service.record(session, actor="staff:alice", action="refund.requested", subject_type="payment_attempt",
                       subject_id=subjects[0], reason="customer charged twice",
                       details={"amount_minor": 1000, "currency": "EUR"}, now=T0)
        service.record(session, actor="staff:bob", action="voucher.block", subject_type="voucher_action",
                       subject_id=subjects[1], reason="stolen batch", details={"serials": [1, 2]},
                       now=T0 + timedelta(minutes=1))
        service.record(session, actor="cli:root", action="store.closed", subject_type="store", subject_id="PAR-01",
                       reason="lease ended", now=T0 + timedelta(minutes=2))
    return entries(db)


def entries(db: Database) -> list[AuditEntry]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def tamper(db: Database, sql: str, **params) -> None:
    """Run `sql` on audit_log with its guard off, as a DBA could: PostgreSQL disables the triggers inside the
    transaction; SQLite (no such switch) drops them and makes them again."""
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(sql), params)
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
            return
        guards = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                   "AND tbl_name = 'audit_log'")).all()
        for name, _ in guards:
            conn.execute(text(f"DROP TRIGGER {name}"))
        conn.execute(text(sql), params)
        for _, create in guards:
            conn.execute(text(create))
