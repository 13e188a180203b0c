from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime

# Where a session stands: the screen the caller is answering, or ended.
MENU, INFO, PIN, LANGUAGE, ENDED = "menu", "info", "pin", "language", "ended"


class UssdSession(Base):
    """One USSD dialogue with a handset, from `*100#` to its last screen (or its silence).

    `open_key` ("msisdn:session number") is set while the session is open and cleared when it ends: UNIQUE, so two
    workers handed the same first PDU open it once (NULLs never collide), while the SMSC may reuse the one-octet
    session number later. `last_sequence` is the sequence number of the last PDU acted on: a PDU delivered again
    carries it (or an older one) and is ignored."""

    __tablename__ = "ussd_sessions"
    __table_args__ = (Index("ix_ussd_sessions_line", "line_id", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(20), index=True)
    line_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lines.id"))
    smsc_session: Mapped[int] = mapped_column(Integer)  # its_session_info octet 1
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    state: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(8))
    last_sequence: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(20))  # why it ended: exit, renewed, timeout, no_line ...
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
