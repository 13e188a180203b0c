from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime

ROLES = ("admin", "agent", "reseller")


class ApiKey(Base):
    """Only a keyed hash of the key is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(10))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reseller_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resellers.id"))  # a reseller key acts for it
