"""What the data-protection officer lists: the erasures done, and how far each retention rule has purged."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime


class Erasure(Base):
    """One former subscriber's line erased: no personal data here either (the line's id, the pseudonym now in its
    number's place, who did it and when). UNIQUE on the line: erasing twice finds it and does nothing more."""

    __tablename__ = "erasures"
    __table_args__ = (Index("ix_erasures_erased_at", "erased_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(16))
    closed_line: Mapped[bool] = mapped_column(Boolean)  # the line was still in service and was closed first
    erased_by: Mapped[str] = mapped_column(String(80))  # the staff member ("staff:alice"), never the subscriber
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RetentionRun(Base):
    """How far a retention rule that blanks columns (rather than deleting rows) has gone: rows created before
    `through_at` are done, so each daily run only reads the day that has just passed its date."""

    __tablename__ = "retention_runs"

    rule: Mapped[str] = mapped_column(String(40), primary_key=True)
    through_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rows: Mapped[int] = mapped_column(Integer)  # what the last run purged
