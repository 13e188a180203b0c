from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime


class AuditEntry(Base):
    """Who decided what about money or staff, and why. Append-only and hash-chained: `seq` counts entries from 1
    without gaps, `prev_hash` is the previous entry's `hash` (see audit.chain). Database triggers refuse UPDATE and
    DELETE (migration 0023); `simkeep audit verify` finds what someone who dropped them changed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject_type", "subject_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict] = mapped_column(JsonType)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
