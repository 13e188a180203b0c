"""Campaigns, the quotes that price a renewal, and each campaign's uses (its budget is counted from them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime

# A campaign's states: staff create it as a draft, start it, pause and resume it; it ends at its window's end.
DRAFT, ACTIVE, PAUSED = "draft", "active", "paused"
STATES = (DRAFT, ACTIVE, PAUSED)

# What a campaign gives: a percentage or a fixed amount off the price, bonus credit, bonus validity days, or
# cashback credited as bonus after a cooling-off period (a percentage of the price paid).
PERCENT_OFF, AMOUNT_OFF, BONUS_CREDIT, BONUS_DAYS, CASHBACK_PERCENT = (
    "percent_off", "amount_off", "bonus_credit", "bonus_days", "cashback_percent")
BENEFITS = (PERCENT_OFF, AMOUNT_OFF, BONUS_CREDIT, BONUS_DAYS, CASHBACK_PERCENT)
DISCOUNTS = (PERCENT_OFF, AMOUNT_OFF)  # they lower the price, so a recharge card's fixed face value cannot take them

# A quote is open until paid or expired; a payment in progress reserves it (its campaigns' budget is held);
# a top-up uses it; a failed payment releases it.
OPEN, RESERVED, USED, RELEASED = "open", "reserved", "used", "released"


class Promotion(Base):
    __tablename__ = "promotions"
    __table_args__ = (Index("ix_promotions_live", "state", "ends_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    code: Mapped[str | None] = mapped_column(String(32), unique=True)  # upper-cased; None: no code needed
    state: Mapped[str] = mapped_column(String(10))
    # The window, entered in the operator's zone (`timezone`) and stored in UTC.
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    # Eligibility: None means any.
    operator_id: Mapped[str | None] = mapped_column(ForeignKey("operators.id"))
    offer_ids: Mapped[list[str] | None] = mapped_column(JsonType)
    channels: Mapped[list[str] | None] = mapped_column(JsonType)
    line_states: Mapped[list[str] | None] = mapped_column(JsonType)
    languages: Mapped[list[str] | None] = mapped_column(JsonType)
    first_renewal_only: Mapped[bool] = mapped_column(Boolean, default=False)
    per_line_limit: Mapped[int | None] = mapped_column(Integer)
    # The benefit: `benefit_value` is a percentage (1-100), an amount in minor units, or a number of days.
    benefit: Mapped[str] = mapped_column(String(20))
    benefit_value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))  # of amount benefits and the money budget
    stackable: Mapped[bool] = mapped_column(Boolean, default=False)
    # The budget, held exactly: `uses` and `spent_minor` change only in one conditional UPDATE (service.reserve).
    max_uses: Mapped[int | None] = mapped_column(Integer)
    budget_minor: Mapped[int | None] = mapped_column(BigInteger)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    spent_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Quote(Base):
    """What a renewal costs for one line, offer, channel and instant: every channel shows and charges this."""

    __tablename__ = "quotes"
    __table_args__ = (Index("ix_quotes_line", "line_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(32))
    partner_code: Mapped[str | None] = mapped_column(String(32))  # the cashback or affiliate site that sent the payer
    currency: Mapped[str] = mapped_column(String(3))
    list_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    bonus_minor: Mapped[int] = mapped_column(BigInteger)  # the offer's bonus plus the campaigns'
    promotion_bonus_minor: Mapped[int] = mapped_column(BigInteger)
    bonus_days: Mapped[int] = mapped_column(Integer)
    cashback_minor: Mapped[int] = mapped_column(BigInteger)
    validity_ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    applied: Mapped[list[dict]] = mapped_column(JsonType)  # each campaign applied: id, name, benefit, amounts
    state: Mapped[str] = mapped_column(String(10))
    topup_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PromotionUse(Base):
    """One campaign's part in one quote, counted in its budget from reservation; released if never paid."""

    __tablename__ = "promotion_uses"
    __table_args__ = (UniqueConstraint("promotion_id", "quote_id"),
                      Index("ix_promotion_uses_line", "promotion_id", "line_id"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    promotion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("promotions.id"))
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quotes.id"))
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    cost_minor: Mapped[int] = mapped_column(BigInteger)
    bonus_days: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10))  # reserved, used, released
    topup_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


# -- cashback (issue 13 item 4): partners paid a commission per renewal they send, and customers' cashback ---------

# A partner is active (its code attributes renewals) or paused (its code is ignored).
PARTNER_ACTIVE, PARTNER_PAUSED = "active", "paused"
# A conversion is pending during the cooling-off days (SIMKEEP_CASHBACK_COOLING_DAYS from the payment), then
# confirmed; a refund or a void reverses it, pending or confirmed.
PENDING, CONFIRMED, REVERSED = "pending", "confirmed", "reversed"
# A customer's cashback waits for its cooling-off days (counted from `created_at`, the payment), then is credited as
# bonus; a refund before that cancels it, one after claws back what is left of it.
WAITING, CREDITED, CANCELLED, CLAWED_BACK = "waiting", "credited", "cancelled", "clawed_back"


class Partner(Base):
    """A cashback or affiliate site: renewals paid through a link with its code earn it a commission."""

    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # upper-cased: codes are case-insensitive
    name: Mapped[str] = mapped_column(String(120))
    # The commission: a percentage of the price paid (basis points, 250 = 2.5 %) and/or a fixed amount per renewal.
    percent_bp: Mapped[int] = mapped_column(Integer)
    fixed_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))  # of the fixed amount (None: no fixed amount)
    postback_url: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(120))  # signs the postbacks, so kept (not hashed); shown once
    state: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PartnerConversion(Base):
    """One paid renewal a partner sent: its commission is owed to the partner (the ledger's partner payable)."""

    __tablename__ = "partner_conversions"
    __table_args__ = (Index("ix_partner_conversions_month", "partner_id", "created_at"),
                      Index("ix_partner_conversions_reversed", "partner_id", "reversed_at"),
                      Index("ix_partner_conversions_pending", "state", "created_at"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    topup_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)  # one conversion per renewal, whatever repeats
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quotes.id"))
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    offer_id: Mapped[str] = mapped_column(String(80))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # the price paid
    commission_minor: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reversed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CustomerCashback(Base):
    """A campaign's cashback for one paid renewal: credited as bonus once its cooling-off days are over."""

    __tablename__ = "customer_cashbacks"
    __table_args__ = (Index("ix_customer_cashbacks_due", "state", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    topup_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quotes.id"))
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    credited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # cancelled or clawed back
    clawed_back_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # taken back from the bonus
    lost_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # already spent when the refund came
