from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType

STACK_EXTEND = "extend_from_current_expiry"
STACK_MAX = "max_of_current_and_new"


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    brand: Mapped[str] = mapped_column(String(80))
    product: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    initial_validity_days: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer)
    suspended_days: Mapped[int] = mapped_column(Integer)
    quarantine_days: Mapped[int] = mapped_column(Integer)
    max_validity_days: Mapped[int] = mapped_column(Integer)
    reminder_offsets: Mapped[list[int]] = mapped_column(JsonType)
    validity_stacking: Mapped[str] = mapped_column(String(40))
    forfeit_balance_on: Mapped[str | None] = mapped_column(String(20))
    grace_network_access: Mapped[str] = mapped_column(String(8), default="cs", server_default="cs")
    mcc_mnc: Mapped[list[str]] = mapped_column(JsonType, default=list)  # the networks its SIMs' IMSIs belong to
    catalog_version: Mapped[str] = mapped_column(String(40))
    provenance: Mapped[dict] = mapped_column(JsonType)


class Offer(Base):
    __tablename__ = "offers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    bonus_minor: Mapped[int] = mapped_column(BigInteger)
    validity_days: Mapped[int] = mapped_column(Integer)
    periods: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # a multi-month renewal: N periods in one payment
    provenance: Mapped[dict] = mapped_column(JsonType)


@dataclass(frozen=True, slots=True)
class OperatorRules:
    """An operator's rules as a money path reads them with its line locked (`line.service.lock_live_line`): what
    the validity rules and pricing need, no more. The rules in `line.rules` take this or an `Operator`."""

    id: str
    country: str
    currency: str
    timezone: str
    initial_validity_days: int
    grace_days: int
    suspended_days: int
    quarantine_days: int
    max_validity_days: int
    reminder_offsets: list[int]
    validity_stacking: str
    forfeit_balance_on: str | None


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """An offer's terms, read with the line locked."""

    id: str
    price_minor: int
    bonus_minor: int
    validity_days: int
