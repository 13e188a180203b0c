"""Worker job: deliver due outbox messages, one transaction to lease, one per outcome."""

from __future__ import annotations

import structlog

from simkeep.core import clock
from simkeep.db import Database
from simkeep.notification import service
from simkeep.notification.senders.base import PermanentFailure, Sender, TemporaryFailure

log = structlog.get_logger()


def deliver_due(db: Database, sender: Sender, *, batch: int = 100, lease_seconds: int = 60,
                max_attempts: int = 8) -> int:
    with db.transaction() as session:
        messages = service.claim_due(session, now=clock.now(), limit=batch, lease_seconds=lease_seconds)
    for message in messages:
        try:
            answer = sender.send(message)
        except (TemporaryFailure, PermanentFailure, OSError) as exc:
            with db.transaction() as session:
                gave_up = service.record_failure(session, message, error=f"{type(exc).__name__}: {exc}",
                                                 permanent=isinstance(exc, PermanentFailure),
                                                 max_attempts=max_attempts, now=clock.now())
            log.warning("message.failed", id=str(message.id), topic=message.topic, attempt=message.attempt,
                        final=gave_up, error=service.scrub(message, str(exc)))
            continue
        with db.transaction() as session:
            service.record_sent(session, message, sent=answer, now=clock.now())
    return len(messages)


class DbListener:
    """Receipts and inbound SMS reported by a sender's own thread, each recorded in its own transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def receipt(self, external_id: str, status: str) -> None:
        with self.db.transaction() as session:
            known = service.record_receipt(session, external_id=external_id, status=status, now=clock.now())
        if not known:
            log.warning("receipt.unknown_message", external_id=external_id, status=status)

    def inbound(self, sender: str, text: str) -> None:
        with self.db.transaction() as session:
            outcome = service.record_inbound(session, sender=sender, text=text, now=clock.now())
        log.info("sms.inbound", outcome=outcome)
