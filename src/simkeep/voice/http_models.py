from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime


class VoiceHttpTurn(Base):
    """One turn of a call carried over HTTP (JSON webhooks or VoiceXML): the request that asked for it and the answer
    it got. Turn 1 answers the new call; turn n + 1 answers what the caller did in turn n. The UNIQUE key is what
    makes a replayed or retried request act once: the one that inserts the row asks the dialogue, every other one
    reads its answer. `answer` is NULL while the dialogue is computing it."""

    __tablename__ = "voice_http_turns"
    __table_args__ = (UniqueConstraint("call_id", "turn"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128))
    turn: Mapped[int] = mapped_column(Integer)
    request_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of what was asked (never a typed PIN in clear)
    answer: Mapped[dict | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # the purge's order, a day behind
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
