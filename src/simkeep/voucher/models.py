from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime

# A voucher's life: made (generated) -> sold to a reseller (active) -> redeemed on a line. Stock that is stolen or
# lost is blocked by serial range; what is still unredeemed when its batch expires is expired (breakage).
GENERATED, ACTIVE, REDEEMED, BLOCKED, EXPIRED = "generated", "active", "redeemed", "blocked", "expired"
STATES = (GENERATED, ACTIVE, REDEEMED, BLOCKED, EXPIRED)
PHYSICAL, EPIN = "physical", "epin"  # printed cards sold by serial range; e-PINs made on demand for one purchase


class VoucherBatch(Base):
    """Cards made together for one offer: a contiguous range of serials, one face value, one expiry date."""

    __tablename__ = "voucher_batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    face_value_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    validity_days: Mapped[int] = mapped_column(Integer)  # the offer's, printed on the card
    serial_from: Mapped[int] = mapped_column(BigInteger, unique=True)
    serial_to: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The plaintext PINs are handed out once: at creation (the CLI writes the files), or kept sealed (AES-GCM) until
    # the one export from the back office, then erased. exported_at set means no export will ever happen again.
    exported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    exported_by: Mapped[str | None] = mapped_column(String(80))
    export_sealed: Mapped[str | None] = mapped_column(Text)
    expired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # when the expiry job moved it to breakage


class Voucher(Base):
    """One card. The serial is its identity (printed, contiguous per batch, what support asks for), so it is the
    primary key: a UUID beside it would be a third index on a table of millions for nothing. The PIN is stored
    only as HMAC-SHA256 under the pepper; nothing here can give it back."""

    __tablename__ = "vouchers"

    serial: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("voucher_batches.id"))
    pin_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    state: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the batch's, here so a redemption guards one row
    reseller_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resellers.id"))
    purchase_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    sold_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    blocked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    redeemed_msisdn: Mapped[str | None] = mapped_column(String(16))
    redeemed_via: Mapped[str | None] = mapped_column(String(16))  # api, portal, agent, ivr, sms
    topup_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)  # the line's timeline finds its cards


class VoucherFailure(Base):
    """A PIN that did not redeem, with the exact reason (what staff see; the caller was told only "invalid").
    Counted per number for the lockout, except typos caught by the check digit (they cost no lookup)."""

    __tablename__ = "voucher_failures"
    __table_args__ = (Index("ix_voucher_failures_msisdn_at", "msisdn", "at"),
                      Index("ix_voucher_failures_serial", "serial"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(20))
    counted: Mapped[bool] = mapped_column()
    serial: Mapped[int | None] = mapped_column(BigInteger)  # when the PIN matched a card (used, blocked, expired)
    channel: Mapped[str] = mapped_column(String(16))  # where the PIN was typed: api, portal, agent, ivr, sms
    client: Mapped[str] = mapped_column(String(64))  # the address or API key that tried
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class VoucherPurchase(Base):
    """A reseller's purchase: physical stock (a serial range activated) or e-PINs (made for it). An e-PIN purchase
    is idempotent on (principal, key) and keeps its PINs sealed (AES-GCM) so a replay answers the same ones."""

    __tablename__ = "voucher_purchases"
    __table_args__ = (UniqueConstraint("principal", "idempotency_key"),
                      Index("ix_voucher_purchases_reseller_created", "reseller_id", "created_at"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reseller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resellers.id"))
    kind: Mapped[str] = mapped_column(String(10))
    principal: Mapped[str] = mapped_column(String(80))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    serial_from: Mapped[int] = mapped_column(BigInteger)
    serial_to: Mapped[int] = mapped_column(BigInteger)
    face_value_minor: Mapped[int] = mapped_column(BigInteger)  # total
    paid_minor: Mapped[int] = mapped_column(BigInteger)  # taken from the float
    commission_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    pins_sealed: Mapped[str | None] = mapped_column(Text)
    journal_entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BulkAction(Base):
    """An action on a serial range (sell, block, unblock). More than BULK_LIMIT vouchers: it waits for a second
    staff member's approval (maker-checker) and runs when approved."""

    __tablename__ = "voucher_actions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    action: Mapped[str] = mapped_column(String(10))
    serial_from: Mapped[int] = mapped_column(BigInteger)
    serial_to: Mapped[int] = mapped_column(BigInteger)
    params: Mapped[dict] = mapped_column(JsonType)  # sell: {"reseller": code}
    state: Mapped[str] = mapped_column(String(10))  # pending | done | rejected
    requested_by: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(500))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    result: Mapped[dict] = mapped_column(JsonType)  # {"changed": n, "skipped": {...}}


class SerialCounter(Base):
    """The next free serial: batches take ranges from it by one guarded update, so two batches never overlap."""

    __tablename__ = "voucher_serials"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_serial: Mapped[int] = mapped_column(BigInteger)
