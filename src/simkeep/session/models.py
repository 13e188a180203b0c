from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime


class WebSession(Base):
    """One browser's session. The cookie carries a random token; only its SHA-256 is stored, so reading this
    table gives no usable cookie. A row is a portal session, or a staff session when staff_id is set."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_idle_expires_at", "idle_expires_at"),
                      Index("ix_web_sessions_expires_at", "expires_at"),
                      Index("ix_web_sessions_staff_id", "staff_id"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict] = mapped_column(JsonType)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("staff_accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idle_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)  # last_seen_at + the idle limit, capped
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)  # absolute: created_at + the absolute limit
    user_agent: Mapped[str] = mapped_column(String(200))
    client_address: Mapped[str] = mapped_column(String(64))
