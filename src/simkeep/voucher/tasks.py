"""Worker job: expire the voucher batches past their date (their unredeemed cards end; breakage is booked)."""

from __future__ import annotations

from datetime import datetime

import structlog

from simkeep.core import clock
from simkeep.db import Database
from simkeep.voucher import service

log = structlog.get_logger()


def expire_vouchers(db: Database, *, now: datetime | None = None) -> int:
    """One transaction: every batch due is expired (idempotent, and several workers skip each other's rows on
    PostgreSQL); returns how many batches."""
    with db.transaction() as session:
        expired = service.expire_due(session, now=now or clock.now())
    if expired:
        log.info("vouchers.expired", batches=expired)
    return expired
