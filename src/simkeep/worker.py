"""The worker process: sweeps the lifecycle on schedule and delivers the outbox, until stopped."""

from __future__ import annotations

import signal
import time

import structlog

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.lifecycle.tasks import run_sweep
from simkeep.notification.senders import make_sender
from simkeep.notification.tasks import deliver_due
from simkeep.payment.tasks import process_inbox, reconcile
from simkeep.sandbox.tasks import expire_abandoned

log = structlog.get_logger()


def run_worker(settings: Settings, *, once: bool = False) -> None:
    db = Database(settings.db_url)
    sender = make_sender(settings, db)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    next_sweep = 0.0
    log.info("worker.started", database=db.dialect)
    while not stopping:
        if time.monotonic() >= next_sweep:
            result = run_sweep(db, now=clock.now(), links_base=settings.base_url)
            expire_abandoned(db, settings)
            reconcile(db, settings)
            if result.lines:
                log.info("sweep.done", lines=result.lines, reminders=result.reminders, transitions=result.transitions)
            next_sweep = time.monotonic() + settings.sweep_interval_seconds
        handled = process_inbox(db, settings)
        sent = deliver_due(db, sender, lease_seconds=settings.outbox_lease_seconds,
                           max_attempts=settings.outbox_max_attempts)
        if once:
            break
        if not sent and not handled:
            time.sleep(settings.worker_poll_seconds)
    getattr(sender, "close", lambda: None)()
    db.dispose()
    log.info("worker.stopped")
