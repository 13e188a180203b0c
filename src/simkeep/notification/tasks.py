"""Worker job: deliver due outbox messages, one transaction to lease, one per outcome."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from sqlalchemy.orm import Session

from simkeep.core import clock
from simkeep.core.logs import request_bound
from simkeep.db import Database, is_transient
from simkeep.notification import service
from simkeep.notification.senders.base import PermanentFailure, Sender, TemporaryFailure, UssdIn

log = structlog.get_logger()
T = TypeVar("T")


def deliver_due(db: Database, sender: Sender, *, batch: int = 100, lease_seconds: int = 60,
                max_attempts: int = 8, stopping: Callable[[], bool] = lambda: False, channel: str | None = None) -> int:
    """Lease up to `batch` due messages (of one `channel` only, if given: USSD answers never queue behind a batch
    of reminders) and send them one by one; returns how many were leased.

    A slow receiver must not let the lease run out under the batch (a second worker would send the same
    messages): once half the lease has elapsed, the rest of the batch is renewed, fenced by the lease end this
    worker set, and a message whose lease was taken over meanwhile is skipped. Every send therefore starts with
    at least half a lease left; the senders' own timeouts (10 s) are well inside half the default 60 s lease.
    An outcome is recorded again if the connection drops (the message did go out: giving up would send it
    twice). `stopping()` true between two messages, or an error that ends the batch, hands the untried rest back.
    """
    claimed_at = clock.now()
    with db.transaction() as session:
        messages = service.claim_due(session, now=claimed_at, limit=batch, lease_seconds=lease_seconds,
                                     channel=channel)
    lease = Lease(held_until=service.lease_end(claimed_at, lease_seconds),
                  renew_at=claimed_at + timedelta(seconds=lease_seconds / 2))
    untried = [m.id for m in messages]
    try:
        for message in messages:
            if stopping():
                break
            now = clock.now()
            if now >= lease.renew_at:
                lease.renew(db, untried, now=now, lease_seconds=lease_seconds)
            untried.remove(message.id)
            if message.id not in lease.lost:
                with request_bound(message.request_id):  # logged under the id of the request that wrote it
                    _deliver(db, sender, message, max_attempts=max_attempts)
    finally:
        if rest := [i for i in untried if i not in lease.lost]:
            with suppress(Exception):  # best effort: if the database is gone, the lease runs out instead
                released = persist(db, lambda session: service.release(session, rest, held_until=lease.held_until),
                                   attempts=1)
                log.info("outbox.released", messages=released)
    return len(messages)


@dataclass
class Lease:
    held_until: datetime  # the lease end this worker set: its fencing token
    renew_at: datetime
    lost: set = field(default_factory=set)

    def renew(self, db: Database, ids: list, *, now: datetime, lease_seconds: int) -> None:
        held = [i for i in ids if i not in self.lost]
        kept = persist(db, lambda session: service.renew_lease(session, held, held_until=self.held_until, now=now,
                                                                lease_seconds=lease_seconds)) if held else set()
        if taken := set(held) - kept:
            self.lost |= taken
            log.warning("outbox.lease_lost", messages=len(taken))
        self.held_until = service.lease_end(now, lease_seconds)
        self.renew_at = now + timedelta(seconds=lease_seconds / 2)


def _deliver(db: Database, sender: Sender, message, *, max_attempts: int) -> None:
    try:
        answer = sender.send(message)
    except (TemporaryFailure, PermanentFailure, OSError) as exc:
        error, permanent = f"{type(exc).__name__}: {exc}", isinstance(exc, PermanentFailure)
        gave_up = persist(db, lambda session: service.record_failure(
            session, message, error=error, permanent=permanent, max_attempts=max_attempts, now=clock.now()))
        log.warning("message.failed", id=str(message.id), topic=message.topic, attempt=message.attempt,
                    final=gave_up, error=service.scrub(message, str(exc)))
        return
    persist(db, lambda session: service.record_sent(session, message, sent=answer, now=clock.now()))
    log.info("message.sent", id=str(message.id), topic=message.topic, channel=message.channel,
             attempt=message.attempt)


def persist(db: Database, work: Callable[[Session], T], *, attempts: int = 8, delay: float = 0.05,
            max_delay: float = 2.0) -> T:
    """One write transaction, tried again (jittered, doubling pauses) while the failure is a lost or refused
    connection: what it records has already happened outside."""
    for attempt in range(1, attempts + 1):
        try:
            with db.transaction() as session:
                return work(session)
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            log.warning("outbox.record_retry", attempt=attempt, error=type(exc).__name__)
            time.sleep(random.uniform(delay / 2, delay))
            delay = min(max_delay, delay * 2)
    raise AssertionError("unreachable")


class DbListener:
    """Receipts, inbound SMS and USSD reported by a sender's own thread, each recorded in its own transaction.
    `ussd_menu` (simkeep.ussd, above this domain) answers USSD through the outbox; `wake` then tells the worker
    there is a message to send now rather than at its next poll."""

    def __init__(self, db: Database, commands: Sequence[service.InboundCommand] = (),
                 ussd_menu: service.UssdMenu | None = None, wake: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.commands = tuple(commands)  # inbound SMS commands of the domains above (STOP AUTO, SOLDE)
        self.ussd_menu, self.wake = ussd_menu, wake

    def receipt(self, external_id: str, status: str) -> None:
        with self.db.transaction() as session:
            known = service.record_receipt(session, external_id=external_id, status=status, now=clock.now())
        if not known:
            log.warning("receipt.unknown_message", external_id=external_id, status=status)

    def inbound(self, sender: str, text: str, message_id: str | None = None) -> None:
        with self.db.transaction() as session:
            outcome = service.record_inbound(session, sender=sender, text=text, now=clock.now(),
                                             message_id=message_id, commands=self.commands)
        log.info("sms.inbound", outcome=outcome)

    def ussd(self, message: UssdIn) -> None:
        menu = self.ussd_menu
        if menu is None:
            log.warning("ussd.no_menu")
            return
        # Database.write: a twin PDU opening the same session in another worker breaks a UNIQUE key; the second
        # try finds that session and acts on nothing twice.
        if self.db.write(lambda session: menu(session, message, clock.now())):
            self.wake()
