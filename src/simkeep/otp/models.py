from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime


class OtpChallenge(Base):
    """A sign-in code sent by SMS. Only a keyed hash of the code is stored."""

    __tablename__ = "otp_challenges"
    __table_args__ = (Index("ix_otp_challenges_msisdn_created", "msisdn", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OtpNumber(Base):
    """One row per number that asked for or checked a code: every code request and check of that number first
    writes it, so they run one after the other (PostgreSQL row lock, SQLite write lock) and the budget read after it
    is the committed one. It holds no secret and no count: the counts are the rows of the tables beside it."""

    __tablename__ = "otp_numbers"

    msisdn: Mapped[str] = mapped_column(String(16), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OtpFailure(Base):
    """One wrong code typed for a number, whichever code it was: the per-number budget spans codes."""

    __tablename__ = "otp_failures"
    __table_args__ = (Index("ix_otp_failures_msisdn_at", "msisdn", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
