from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime


class WorkerHeartbeat(Base):
    """One row per running worker process, written at its start and at each round: /readyz reads the newest beat,
    operators read who is working where (and how long its last sweep took)."""

    __tablename__ = "worker_heartbeats"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_beat_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_sweep_seconds: Mapped[float | None] = mapped_column(Float)
