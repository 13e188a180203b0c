from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime


class Reseller(Base):
    """A shop, a distributor or a 代购 who buys vouchers in bulk from a prepaid float, at a wholesale discount.
    The float is a tracked ledger account: a purchase is a guarded debit, so it can never go below zero."""

    __tablename__ = "resellers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # what staff and statements call it: "TABAC-RIVOLI"
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    discount_bp: Mapped[int] = mapped_column(Integer)  # wholesale discount in basis points: 500 = 5 %
    float_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
