"""Stores (the directory the finder shows), counter tablets, cash drawers, sales at the counter and ID checks.

A store sells renewals for the operator: what it collects is owed to the operator and sits in the store's ledger
account until it is paid over; its commission is booked to the same account as each sale is made."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, String, UniqueConstraint, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, JsonType, UtcDateTime

SERVICES = ("renewal", "sim_sale", "voucher_sale")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CASH, CARD, VOUCHER = "cash", "card", "voucher"  # how a customer pays at the counter
METHODS = (CASH, CARD, VOUCHER)
ID_DOCUMENTS = ("passport", "id_card", "residence_permit", "driving_licence")


class Store(Base):
    """A shop that renews numbers over the counter. `hours` maps a weekday ("mon" … "sun") to its opening spans,
    local time in `timezone`: [["09:00", "12:30"], ["14:00", "19:00"]]; a span that ends before it starts runs past
    midnight (["22:00", "02:00"]). `closed_on` lists ISO dates it does not open (public holidays)."""

    __tablename__ = "stores"
    __table_args__ = (
        Index("ix_stores_latitude_longitude", "latitude", "longitude"),  # SQLite's nearest: a bounding box first
        # PostgreSQL's nearest: earthdistance's point on the earth, GiST-indexed (migration 0009 says more).
        Index("ix_stores_earth", func.ll_to_earth(text("latitude"), text("longitude")),
              postgresql_using="gist").ddl_if(dialect="postgresql"),
        Index("ix_stores_postcode", "postcode"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # "PAR-BELLEVILLE": what staff and statements say
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(80))
    city_key: Mapped[str] = mapped_column(String(80), index=True)  # the city folded for search: "saint etienne"
    country: Mapped[str] = mapped_column(String(2))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164
    timezone: Mapped[str] = mapped_column(String(40))
    hours: Mapped[dict] = mapped_column(JsonType)
    closed_on: Mapped[list] = mapped_column(JsonType)
    operators: Mapped[list] = mapped_column(JsonType)  # operator ids served
    languages: Mapped[list] = mapped_column(JsonType)  # spoken at the counter: "zh_CN", "fr", "en", ...
    services: Mapped[list] = mapped_column(JsonType)
    demo: Mapped[bool] = mapped_column(Boolean)  # made up for the demo: the finder says so
    currency: Mapped[str] = mapped_column(String(3))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))  # what the store owes
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # left the network: not found, sells nothing


class CounterDevice(Base):
    """A shared tablet at a store's counter, registered by the store's manager. The browser keeps a random token
    (only its hash is here); agents of that store sign in on it with their short PIN."""

    __tablename__ = "counter_devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC-SHA256 of the browser's token
    registered_by: Mapped[str] = mapped_column(String(80))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Drawer(Base):
    """An agent's cash drawer for one shift: opened with a counted float, closed with the counted cash. `open_for`
    is the agent's id while the drawer is open and NULL after: UNIQUE, so an agent has at most one open drawer."""

    __tablename__ = "store_drawers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"), index=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_accounts.id"))
    open_for: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    opening_float_minor: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(80))
    expected_minor: Mapped[int | None] = mapped_column(BigInteger)  # float + cash sales - cash voids
    counted_minor: Mapped[int | None] = mapped_column(BigInteger)
    difference_minor: Mapped[int | None] = mapped_column(BigInteger)  # counted - expected: + over, - short
    journal_entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("journal_entries.id"))  # the over/short


class StoreSale(Base):
    """A renewal sold over the counter: the top-up it made, how it was paid, the commission the store earned. A void
    (by a store manager, within minutes) reverses the top-up in the ledger and the validity it bought; nothing is
    deleted."""

    __tablename__ = "store_sales"
    __table_args__ = (UniqueConstraint("agent_id", "idempotency_key"),
                      Index("ix_store_sales_store_created", "store_id", "created_at"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"))
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_accounts.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    drawer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("store_drawers.id"), index=True)  # cash only
    topup_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("topups.id"), unique=True)
    receipt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("receipts.id"), unique=True)
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"), index=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    method: Mapped[str] = mapped_column(String(10))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    commission_minor: Mapped[int] = mapped_column(BigInteger)
    terminal_ref: Mapped[str | None] = mapped_column(String(64))  # card-present: the terminal's authorisation
    voucher_serial: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    voided_by: Mapped[str | None] = mapped_column(String(80))
    void_reason: Mapped[str | None] = mapped_column(String(200))
    void_entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("journal_entries.id"))


class IdCheck(Base):
    """That an agent saw the customer's ID, minimised: the document's type, issuing country and last four
    characters, never an image or the full number. Purged after SIMKEEP_ID_CHECK_RETENTION_DAYS."""

    __tablename__ = "id_checks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"))
    line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lines.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(20))
    issuing_country: Mapped[str] = mapped_column(String(2))
    last4: Mapped[str] = mapped_column(String(4))
    checked_by: Mapped[str] = mapped_column(String(80))
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
