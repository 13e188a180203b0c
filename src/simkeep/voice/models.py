"""Calls to the hotline: one row per call with the dialogue's state between two events, and one row per turn with
what the menu said (prompt names, never audio) and what kind of input led to it (never the digits of a PIN, a code
or a typed number)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime

COMPLETED, HUNG_UP, TRANSFERRED, FAILED = "completed", "hung_up", "transferred", "failed"  # a call's outcome


class VoiceCall(Base):
    """A call, from its first turn to its end. `state` is the dialogue's (menu.py): the step, the counts of invalid
    keys and silences, what was done. `line_id`: the line the call is about, once known (the calling line, or the
    typed number once its code was verified, or the number a card was redeemed on)."""

    __tablename__ = "voice_calls"
    __table_args__ = (UniqueConstraint("transport", "call_id"),
                      Index("ix_voice_calls_line_started", "line_id", "started_at"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), index=True)
    transport: Mapped[str] = mapped_column(String(8))
    caller: Mapped[str | None] = mapped_column(String(32))
    called: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lines.id"))
    language: Mapped[str | None] = mapped_column(String(8))  # None until the caller chose one (a first call)
    state: Mapped[dict] = mapped_column(JsonType)
    done: Mapped[list] = mapped_column(JsonType)  # what the call did, for the line's history: [{"action": ...}]
    turns: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(12))  # COMPLETED, HUNG_UP, TRANSFERRED, FAILED once ended
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class VoiceTurn(Base):
    """One turn of a call: the input that led to it (`start`, a menu key, `digits` for a PIN / code / number,
    `silence`, `hung_up`), the prompts played ("fr/balance_is", "fr/n10", ...) and what came next."""

    __tablename__ = "voice_turns"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("voice_calls.id"))
    seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(16))  # the step the input answered
    input: Mapped[str] = mapped_column(String(16))
    prompts: Mapped[list] = mapped_column(JsonType)
    then: Mapped[str] = mapped_column(String(16))  # gather, transfer, hangup, none
    at: Mapped[datetime] = mapped_column(UtcDateTime)
