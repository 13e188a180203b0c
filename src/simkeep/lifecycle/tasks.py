"""Worker job: sweep every due line as of `now`, one transaction per batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from simkeep.db import Database
from simkeep.lifecycle import service
from simkeep.lifecycle.service import SweepResult
from simkeep.line.links import PLAIN, RenewalLinks


def count_due(db: Database, *, now: datetime) -> int:
    with db.transaction(write=False) as session:
        return service.count_due(session, now=now)


def run_sweep(db: Database, *, now: datetime, batch: int = 2000, links: RenewalLinks = PLAIN,
              progress: Callable[[int], None] | None = None) -> SweepResult:
    total = SweepResult()
    while True:
        with db.transaction() as session:
            result = service.sweep_batch(session, now=now, limit=batch, links=links)
        total.add(result)
        if progress:
            progress(result.lines)
        if result.lines < batch:
            return total
