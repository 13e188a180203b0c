from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime


class TopUp(Base):
    __tablename__ = "topups"
    __table_args__ = (
        UniqueConstraint("principal", "idempotency_key"),
        Index("ix_topups_line_created", "line_id", "created_at"),
        # The dashboard's renewals and revenue by day (report.service): a range of days read from the index alone
        # on PostgreSQL when no operator is chosen.
        Index("ix_topups_created_at", "created_at",
              postgresql_include=["channel", "price_minor", "bonus_minor", "currency", "line_id"]),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    bonus_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    validity_before: Mapped[datetime] = mapped_column(UtcDateTime)
    validity_ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    journal_entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    quote_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the quote it paid, when campaigns priced it
