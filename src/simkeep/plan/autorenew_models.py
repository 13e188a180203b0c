"""Auto-renew: saved payment methods, each line's auto-renew setting, and one charge row per renewed period.

A saved method keeps only the provider's references (customer, payment method or vault token) and a label the
subscriber recognises ("Visa •••• 4242"): never a card number. A charge is UNIQUE on (line, period), the period
being the validity end it renews: a second worker, a rerun or a crash-and-retry can never start a second charge for
the same period."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime

# Modes: renew N days before the validity end, or just before the number-loss date (the lowest cost: the line
# may pass through grace and suspension, the number is kept).
BEFORE_END, LOWEST_COST = "before_end", "lowest_cost"
MODES = (BEFORE_END, LOWEST_COST)

# Charge states. due → charging → succeeded | failed | requires_action; failed / requires_action → charging again
# at next_retry_at (the retry schedule), or → given_up (no retry fits before the number-loss date) / stopped
# (auto-renew turned off) / settled (the period was renewed some other way meanwhile).
CHARGING, SUCCEEDED, FAILED, REQUIRES_ACTION = "charging", "succeeded", "failed", "requires_action"
GIVEN_UP, STOPPED, SETTLED = "given_up", "stopped", "settled"
RETRYABLE = (FAILED, REQUIRES_ACTION)
CLOSED = (SUCCEEDED, GIVEN_UP, STOPPED, SETTLED)


class SavedMethod(Base):
    __tablename__ = "saved_payment_methods"
    __table_args__ = (UniqueConstraint("provider", "method_ref"), Index("ix_saved_payment_methods_line", "line_id"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    provider: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))  # card | paypal
    customer_ref: Mapped[str | None] = mapped_column(String(80))  # Stripe customer, PayPal customer id
    method_ref: Mapped[str] = mapped_column(String(120))  # Stripe PaymentMethod, PayPal vault token, sandbox pm
    label: Mapped[str] = mapped_column(String(60))  # "Visa •••• 4242", "PayPal a•••@example.com"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AutoRenewSetting(Base):
    """One per line: what to renew with, when, with which saved method, and whether it is on."""

    __tablename__ = "auto_renew_settings"
    __table_args__ = (Index("ix_auto_renew_settings_enabled", "enabled", "line_id"),)

    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    mode: Mapped[str] = mapped_column(String(12))
    days_before: Mapped[int] = mapped_column(Integer)
    method_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("saved_payment_methods.id"))
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str] = mapped_column(String(80))  # "portal", "sms:STOP AUTO", "link", "staff:alice"
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AutoRenewCharge(Base):
    __tablename__ = "auto_renew_charges"
    __table_args__ = (UniqueConstraint("line_id", "period_end"), Index("ix_auto_renew_charges_retry", "state",
                                                                      "next_retry_at"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"))
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)  # the validity end this charge renews
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    method_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("saved_payment_methods.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(Integer)
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_attempts.id"))  # the current try's
    failure: Mapped[str | None] = mapped_column(String(80))
    next_retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
