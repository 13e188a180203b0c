"""The audit log: every manual decision about money, with the person and the reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from simkeep.audit.models import AuditEntry
from simkeep.core.errors import InvalidInput
from simkeep.core.ids import new_id


def record(session: Session, *, actor: str, action: str, subject_type: str, subject_id: str, reason: str,
           details: dict | None = None, now: datetime) -> None:
    if not reason or not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    session.execute(insert(AuditEntry.__table__), [dict(
        id=new_id(), actor=actor, action=action, subject_type=subject_type, subject_id=str(subject_id),
        reason=reason.strip()[:500], details=details or {}, at=now)])


def for_subject(session: Session, subject_type: str, subject_id: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.subject_type == subject_type,
                                                         AuditEntry.subject_id == str(subject_id))
                                .order_by(AuditEntry.at)))
