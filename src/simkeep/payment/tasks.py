"""Worker jobs: apply stored provider webhooks, one transaction per event; reconcile silent attempts (the provider
calls are payment.flow's)."""

from __future__ import annotations

import structlog

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.payment import flow, service
from simkeep.payment import reconcile as reconciliation

log = structlog.get_logger()


def process_inbox(db: Database, settings: Settings, *, batch: int = 50) -> int:
    handled = 0
    while True:
        with db.transaction() as session:
            events = service.claim_events(session, limit=1)
            if not events:
                return handled
            outcome = service.handle_event(session, events[0], receipt_secret=settings.key("receipt"),
                                           base_url=settings.base_url, now=clock.now())
        log.info("webhook.handled", provider=events[0].provider, event_id=events[0].event_id, outcome=outcome)
        handled += 1
        if handled >= batch:
            return handled


def reconcile(db: Database, settings: Settings) -> int:
    """Ask the providers about attempts that heard nothing for a while; cancel those past their expiry."""
    with db.transaction(write=False) as session:
        attempts = reconciliation.stuck(session, now=clock.now())
    for attempt in attempts:
        outcome = flow.check_stuck(db, settings, attempt)
        log.info("payment.reconciled", attempt=str(attempt.id), provider=attempt.provider, outcome=outcome)
    return len(attempts)
