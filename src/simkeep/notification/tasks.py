"""Worker job: deliver due outbox messages, one transaction to lease, one per outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import structlog

from simkeep.core import clock
from simkeep.db import Database
from simkeep.notification import service
from simkeep.notification.senders.base import PermanentFailure, Sender, TemporaryFailure

log = structlog.get_logger()


def deliver_due(db: Database, sender: Sender, *, batch: int = 100, lease_seconds: int = 60,
                max_attempts: int = 8, stopping: Callable[[], bool] = lambda: False) -> int:
    """Lease up to `batch` due messages and send them one by one; returns how many were leased.

    A slow receiver must not let the lease run out under the batch (a second worker would send the same
    messages): once half the lease has elapsed, the rest of the batch is renewed, fenced by the lease end this
    worker set, and a message whose lease was taken over meanwhile is skipped. Every send therefore starts with
    at least half a lease left; the senders' own timeouts (10 s) are well inside half the default 60 s lease.
    `stopping()` true between two messages hands the untried rest back."""
    claimed_at = clock.now()
    with db.transaction() as session:
        messages = service.claim_due(session, now=claimed_at, limit=batch, lease_seconds=lease_seconds)
    held_until = service.lease_end(claimed_at, lease_seconds)
    renew_at = claimed_at + timedelta(seconds=lease_seconds / 2)
    lost: set = set()
    for index, message in enumerate(messages):
        rest = [m.id for m in messages[index:] if m.id not in lost]
        if stopping():
            with db.transaction() as session:
                service.release(session, rest, held_until=held_until)
            log.info("outbox.released", messages=len(rest))
            break
        now = clock.now()
        if now >= renew_at and rest:
            with db.transaction() as session:
                kept = service.renew_lease(session, rest, held_until=held_until, now=now, lease_seconds=lease_seconds)
            if taken := set(rest) - kept:
                lost |= taken
                log.warning("outbox.lease_lost", messages=len(taken))
            held_until = service.lease_end(now, lease_seconds)
            renew_at = now + timedelta(seconds=lease_seconds / 2)
        if message.id in lost:
            continue
        try:
            answer = sender.send(message)
        except (TemporaryFailure, PermanentFailure, OSError) as exc:
            with db.transaction() as session:
                gave_up = service.record_failure(session, message, error=f"{type(exc).__name__}: {exc}",
                                                 permanent=isinstance(exc, PermanentFailure),
                                                 max_attempts=max_attempts, now=clock.now())
            log.warning("message.failed", id=str(message.id), topic=message.topic, attempt=message.attempt,
                        final=gave_up, error=str(exc))
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
