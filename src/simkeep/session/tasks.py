"""Worker job: purge expired sessions."""

from __future__ import annotations

from datetime import datetime

from simkeep.core import clock
from simkeep.db import Database
from simkeep.session import service


def purge_expired_sessions(db: Database, *, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete every expired session in batches of `batch` rows (short write transactions); returns how many."""
    total = 0
    while True:
        with db.transaction() as session:
            deleted = service.purge_expired(session, now=now or clock.now(), limit=batch)
        total += deleted
        if deleted < batch:
            return total
