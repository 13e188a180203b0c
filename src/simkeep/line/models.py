from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime

ACTIVE, GRACE, SUSPENDED, DEACTIVATED, QUARANTINE, AVAILABLE = (
    "active", "grace", "suspended", "deactivated", "quarantine", "available",
)
STATES = (ACTIVE, GRACE, SUSPENDED, DEACTIVATED, QUARANTINE, AVAILABLE)
RENEWABLE = (ACTIVE, GRACE, SUSPENDED)


class Line(Base):
    """A subscription on one MSISDN. The number is held while any line on it is not `available`:
    the partial unique index is the number pool's guard."""

    __tablename__ = "lines"
    __table_args__ = (
        Index("uq_lines_live_msisdn", "msisdn", unique=True,
              sqlite_where=text("state != 'available'"), postgresql_where=text("state != 'available'")),
        Index("ix_lines_next_sweep_at", "next_sweep_at"),
        Index("ix_lines_msisdn_created", "msisdn", "created_at"),
        # The dashboard's numbers at risk: lines in service by number-loss date, without reading the others.
        Index("ix_lines_live_number_loss", "number_loss_at", "operator_id",
              sqlite_where=text("state IN ('active', 'grace', 'suspended')"),
              postgresql_where=text("state IN ('active', 'grace', 'suspended')")),
        # The back office finds a line by e-mail whatever its case (admin line search).
        Index("ix_lines_email_lower", func.lower(text("email"))),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    state: Mapped[str] = mapped_column(String(12))
    language: Mapped[str] = mapped_column(String(8))
    email: Mapped[str | None] = mapped_column(String(254))
    credit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    bonus_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    validity_ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    number_loss_at: Mapped[datetime] = mapped_column(UtcDateTime)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The row is the schedule: the next instant a sweep has something to do for this line.
    next_sweep_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Smallest reminder offset (days before number loss) already sent in this validity period.
    reminded_offset: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The subscriber asked for no more reminders (portal or STOP by SMS); other messages still go out.
    reminders_opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Staff paused reminders until then (a customer abroad, a complaint): due ones wait, and the latest goes out after.
    reminders_paused_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LineEvent(Base):
    """State changes, for history and audit."""

    __tablename__ = "line_events"
    # The dashboard's numbers lost and returned to the pool per day: one state over a range of instants.
    __table_args__ = (Index("ix_line_events_to_state_at", "to_state", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


NOTE_MAX_CHARS = 2000


class LineNote(Base):
    """A staff member's note on a line, shown in its timeline. Append-only: a note is never edited or deleted (a
    correction is another note)."""

    __tablename__ = "line_notes"
    __table_args__ = (Index("ix_line_notes_line_at", "line_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    author: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(String(NOTE_MAX_CHARS))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class LockedLine:
    """The live line as a money path holds it, locked FOR UPDATE (`line.service.lock_live_line`): only the columns
    money paths need, so the hottest query decodes little. A snapshot: it does not follow later updates."""

    id: uuid.UUID
    msisdn: str
    operator_id: str
    state: str
    language: str
    credit_account_id: uuid.UUID
    bonus_account_id: uuid.UUID
    validity_ends_at: datetime
    number_loss_at: datetime
    state_changed_at: datetime
    earlier_id: uuid.UUID | None = None  # an earlier request with the caller's idempotency key, when asked for
