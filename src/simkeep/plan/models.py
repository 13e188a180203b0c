from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime


class KeepPlan(Base):
    """A keep-my-number plan the subscriber asked to be reminded of: its renewals as computed then, and the
    reminder messages put in the outbox for their days."""

    __tablename__ = "keep_plans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"), index=True)
    mode: Mapped[str] = mapped_column(String(12))
    until_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    steps: Mapped[list] = mapped_column(JsonType)
    reminders: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
