"""The audit log: every manual decision about money, with the person and the reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, insert, or_, select
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


def for_subjects(session: Session, subjects: dict[str, list[str]], *, upto: datetime | None = None,
                 limit: int = 50) -> list[AuditEntry]:
    """Entries about any of these subjects ({subject_type: [subject_id, ...]}) at or before `upto`, newest first:
    a line's timeline shows the staff actions on the line, its payments and its top-ups (ix_audit_log_subject)."""
    wanted = [and_(AuditEntry.subject_type == kind, AuditEntry.subject_id.in_([str(i) for i in ids]))
              for kind, ids in subjects.items() if ids]
    if not wanted:
        return []
    stmt = select(AuditEntry).where(or_(*wanted))
    if upto is not None:
        stmt = stmt.where(AuditEntry.at <= upto)
    return list(session.scalars(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))
