"""Worker job: the sandbox provider expires payments nobody completed."""

from __future__ import annotations

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.sandbox import service


def expire_abandoned(db: Database, settings: Settings) -> int:
    if not settings.sandbox_on:
        return 0
    with db.transaction() as session:
        return service.expire_abandoned(session, webhook_url=f"{settings.base_url}/webhooks/sandbox", now=clock.now())
