"""Worker job: apply stored provider webhooks, one transaction per event."""

from __future__ import annotations

import structlog

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.payment import service

log = structlog.get_logger()


def process_inbox(db: Database, settings: Settings, *, batch: int = 50) -> int:
    handled = 0
    while True:
        with db.transaction() as session:
            events = service.claim_events(session, limit=1)
            if not events:
                return handled
            outcome = service.handle_event(session, events[0], receipt_secret=settings.secret_key,
                                           base_url=settings.base_url, now=clock.now())
        log.info("webhook.handled", provider=events[0].provider, event_id=events[0].event_id, outcome=outcome)
        handled += 1
        if handled >= batch:
            return handled
