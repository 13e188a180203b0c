"""Worker job: the cashback whose cooling-off days are over (promotion.cashback.settle_due)."""

from __future__ import annotations

from datetime import datetime

import structlog

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.promotion import cashback

log = structlog.get_logger()


def settle_cashback(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """Confirm partners' conversions and credit customers' cashback past SIMKEEP_CASHBACK_COOLING_DAYS; returns
    how many rows moved."""
    result = cashback.settle_due(db.transaction, now=now or clock.now(), cooling_days=settings.cashback_cooling_days)
    if result.confirmed or result.credited or result.cancelled:
        log.info("cashback.settled", confirmed=result.confirmed, credited=result.credited, cancelled=result.cancelled)
    return result.confirmed + result.credited + result.cancelled
