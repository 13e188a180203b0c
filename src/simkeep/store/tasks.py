"""Worker jobs of the store domain: purging ID checks past their retention period."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.store.models import IdCheck

log = structlog.get_logger()
BATCH = 1000


def purge_id_checks(db: Database, settings: Settings, now: datetime, *, batch: int = BATCH) -> int:
    """Delete the ID checks recorded more than SIMKEEP_ID_CHECK_RETENTION_DAYS ago (checked_at before now minus the
    period; one checked exactly at that instant is kept until the next run), `batch` rows per short transaction,
    so a large backlog never holds a long write lock. Returns how many were deleted."""
    cutoff = now - timedelta(days=settings.id_check_retention_days)
    total = 0
    while True:
        with db.transaction() as session:
            ids = list(session.scalars(select(IdCheck.id).where(IdCheck.checked_at < cutoff)
                                       .order_by(IdCheck.checked_at, IdCheck.id).limit(batch)))
            if ids:
                session.execute(delete(IdCheck).where(IdCheck.id.in_(ids))
                                .execution_options(synchronize_session=False))
        total += len(ids)
        if len(ids) < batch:
            break
    if total:
        log.info("store.id_checks_purged", rows=total, retention_days=settings.id_check_retention_days)
    return total
