from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from simkeep.db import Base, UtcDateTime


class StaffAccount(Base):
    """A person who works in the back office. Never deleted (the audit log names them): disabled instead."""

    __tablename__ = "staff_accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, with its parameters and salt
    must_change_password: Mapped[bool] = mapped_column(Boolean)  # a one-time password given by another person
    totp_secret: Mapped[str | None] = mapped_column(String(200))  # sealed (AES-GCM), never the plain secret
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # the last code's time step: no reuse
    failed_attempts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # 1 on the account made by /admin/setup: UNIQUE, so two racing setups cannot both make an admin.
    setup_marker: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_signin_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reseller_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resellers.id"))  # role reseller: whose pages
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stores.id"))  # store roles: the one store
    # Store roles: the short PIN typed on a registered counter tablet (argon2id like the password; the tablet's own
    # registration is the other factor). Its failures count toward the same lockout as the password's.
    pin_hash: Mapped[str | None] = mapped_column(String(200))
