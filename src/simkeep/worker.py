"""The worker process: sweeps the lifecycle on schedule and delivers the outbox, until stopped.

Each job (heartbeat, sweep, expire_abandoned, reconcile, auto_renew, expire_vouchers, retention (daily),
purge_voice_http_turns, settle_cashback, expire_ussd, process_inbox, deliver_due, provision, network_drift) runs on its own: when one raises — the database went away, a connection was terminated, or a bug — the
error is logged (its class and where it was raised, never its message, which for SQL errors carries bound
parameters) and that job alone waits `worker_backoff_seconds * 2^(n-1)`, jittered, at most `worker_backoff_max_seconds`, before it is tried again;
the others go on. Every job's work is one transaction per step, so a failed step leaves nothing half-done.
SIGTERM/SIGINT stop the worker after the step in progress: a delivery batch hands its unsent messages back.
USSD answers have a thread of their own (deliver_ussd), woken by the SMPP link as soon as one is queued.
The heartbeat job writes this process's row in worker_heartbeats (at most every `worker_heartbeat_seconds`, with
the last sweep's duration), which /readyz and /metrics read; a clean stop removes it.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

import structlog

from simkeep.config import Settings
from simkeep.core import clock, logs
from simkeep.core.failures import describe
from simkeep.core.metrics import SWEEP_SECONDS
from simkeep.db import Database, is_transient
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line.links import PURPOSE as LINK_KEY
from simkeep.line.links import RenewalLinks
from simkeep.network import drift as network_drift
from simkeep.network import tasks as network
from simkeep.notification.outbox import USSD
from simkeep.notification.senders import make_sender
from simkeep.notification.service import Inbound
from simkeep.notification.tasks import deliver_due
from simkeep.ops import heartbeat
from simkeep.ops.metrics import process_stopped
from simkeep.payment.tasks import process_inbox, reconcile
from simkeep.plan.autorenew import stop_by_sms
from simkeep.plan.autorenew_tasks import run_autorenew
from simkeep.privacy import retention
from simkeep.promotion import cashback
from simkeep.promotion.tasks import settle_cashback
from simkeep.sandbox.tasks import expire_abandoned
from simkeep.sms_command.service import SmsCommands
from simkeep.ussd import tasks as ussd
from simkeep.voice import exchange as voice_http
from simkeep.voucher.tasks import expire_vouchers

log = structlog.get_logger()
RETENTION_EVERY_SECONDS = 24 * 3600.0


@dataclass
class Job:
    """One job's schedule: `every` seconds between successful runs (0: every round), a backoff after failures."""

    name: str
    run: Callable[[], int]  # returns how much it did
    every: float = 0.0
    rests: bool = False  # True: what it did never keeps the worker from resting (periodic jobs)
    failures: int = 0
    next_at: float = 0.0

    def succeeded(self, now: float) -> None:
        if self.failures:
            log.info("worker.job_recovered", job=self.name, after_failures=self.failures)
        self.failures, self.next_at = 0, now + self.every

    def failed(self, now: float, *, base: float, cap: float) -> float:
        self.failures += 1
        delay = min(cap, base * 2 ** min(self.failures - 1, 30))
        delay = random.uniform(delay / 2, delay)  # jitter: workers that failed together do not retry together
        self.next_at = now + delay
        return delay


def run_round(jobs: list[Job], *, settings: Settings, stopping: Callable[[], bool]) -> tuple[int, int]:
    """Run every job that is due; returns (work done, jobs failed)."""
    done = failed = 0
    for job in jobs:
        if stopping():
            break
        now = time.monotonic()
        if now < job.next_at:
            continue
        try:
            count = job.run() or 0
            done += 0 if job.rests else count
        except Exception as exc:  # one job's failure must not stop the others
            failed += 1
            delay = job.failed(time.monotonic(), base=settings.worker_backoff_seconds,
                               cap=settings.worker_backoff_max_seconds)
            (log.warning if is_transient(exc) else log.error)(
                "worker.job_failed", job=job.name, transient=is_transient(exc), failures=job.failures,
                retry_in_s=round(delay, 2), **describe(exc))
            continue
        job.succeeded(time.monotonic())
    return done, failed


class Heartbeat:
    """This worker's row in worker_heartbeats: registered on the first beat, moved on at most every `every` seconds,
    carrying the duration of the last sweep; removed on a clean stop."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.id: uuid.UUID | None = None
        self.sweep_seconds: float | None = None

    def __call__(self) -> int:
        with self.db.transaction() as session:
            if self.id is None:
                self.id = heartbeat.start(session, now=clock.now())
            heartbeat.beat(session, self.id, now=clock.now(), sweep_seconds=self.sweep_seconds)
        return 1

    def swept(self, seconds: float) -> None:
        SWEEP_SECONDS.observe(seconds)
        self.sweep_seconds = seconds

    def stop(self) -> None:
        if self.id is not None:
            with suppress(Exception), self.db.transaction() as session:  # the database may be what stopped us
                heartbeat.stop(session, self.id)


def make_jobs(db: Database, sender, settings: Settings, *, stopping: Callable[[], bool],
              beat: Heartbeat | None = None) -> list[Job]:
    links = RenewalLinks(settings.base_url, settings.key(LINK_KEY))
    beat = beat or Heartbeat(db)

    def sweep() -> int:
        started = time.monotonic()
        result = run_sweep(db, now=clock.now(), links=links)
        beat.swept(time.monotonic() - started)
        if result.lines:
            log.info("sweep.done", lines=result.lines, reminders=result.reminders, transitions=result.transitions)
        return result.lines

    def deliver() -> int:
        return deliver_due(db, sender, lease_seconds=settings.outbox_lease_seconds,
                           max_attempts=settings.outbox_max_attempts, stopping=stopping)

    def provision() -> int:
        return network.send_due(db, settings, now=clock.now(), stopping=stopping)

    every = settings.sweep_interval_seconds
    return [Job("heartbeat", beat, settings.worker_heartbeat_seconds, rests=True),
            Job("provision", provision),
            Job("network_drift", network_drift.Schedule(db, settings), rests=True),
            Job("sweep", sweep, every, rests=True),
            Job("expire_abandoned", lambda: expire_abandoned(db, settings), every, rests=True),
            Job("reconcile", lambda: reconcile(db, settings), every, rests=True),
            Job("auto_renew", lambda: run_autorenew(db, settings).charged, every, rests=True),
            Job("expire_vouchers", lambda: expire_vouchers(db), every, rests=True),
            # Personal data past its retention period (privacy/retention.py: ID checks, sign-in codes, message
            # bodies, sessions...), once a day; each rule's own batches keep transactions short.
            Job("retention", lambda: sum(o.rows for o in retention.run(db, settings, now=clock.now())),
                RETENTION_EVERY_SECONDS, rests=True),
            Job("purge_voice_http_turns", lambda: voice_http.purge(db, now=clock.now()), every, rests=True),
            Job("settle_cashback", lambda: settle_cashback(db, settings), every, rests=True),
            Job("expire_ussd", lambda: ussd.expire_idle(db, settings), every, rests=True),
            Job("process_inbox", lambda: process_inbox(db, settings)),
            Job("deliver_due", deliver)]


def deliver_ussd(db: Database, sender, settings: Settings, wake: threading.Event, stop: threading.Event) -> None:
    """USSD answers go out from their own thread as soon as the SMPP listener has queued one (a handset waits for
    each screen), never behind a round of jobs or a batch of reminders; the main loop's deliver_due is their
    fallback. A failure backs off as a job's does."""
    job = Job("deliver_ussd", lambda: deliver_due(db, sender, lease_seconds=settings.outbox_lease_seconds,
                                                   max_attempts=settings.outbox_max_attempts, stopping=stop.is_set,
                                                   channel=USSD))
    while not stop.is_set():
        wake.wait(max(settings.worker_poll_seconds, job.next_at - time.monotonic()))
        wake.clear()
        if not stop.is_set():
            run_round([job], settings=settings, stopping=stop.is_set)


def _stop_auto(session, sms: Inbound, now):
    return stop_by_sms(session, sender=sms.sender, text=sms.text, now=now)


def inbound_commands(settings: Settings) -> tuple:
    """What an inbound SMS may be, tried in order: STOP AUTO, then the SMS commands (which leave STOP alone)."""
    return _stop_auto, SmsCommands(settings, RenewalLinks(settings.base_url, settings.key(LINK_KEY)))


def run_worker(settings: Settings, *, once: bool = False) -> int:
    """Work until SIGTERM/SIGINT (or one round with `once`); returns the exit code: 1 if `once` saw a failure."""
    logs.configure(settings.log_level)
    db = Database(settings.db_url)
    stop, wake = threading.Event(), threading.Event()  # wake: a USSD answer waits in the outbox
    sender = make_sender(settings, db, secret_sources={topic: cashback.postback_secret
                                                       for topic in cashback.POSTBACK_TOPICS},
                         commands=inbound_commands(settings), ussd_menu=ussd.menu(settings), wake=wake.set)
    answers = threading.Thread(target=deliver_ussd, args=(db, sender, settings, wake, stop), name="ussd-answers",
                               daemon=True)

    def on_signal(signum, _frame) -> None:
        if not stop.is_set():
            log.info("worker.stopping", signal=signal.Signals(signum).name)
        stop.set()
        wake.set()  # the USSD answers' thread stops too

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    beat = Heartbeat(db)
    jobs = make_jobs(db, sender, settings, stopping=stop.is_set, beat=beat)
    log.info("worker.started", database=db.dialect)
    answers.start()
    failed = 0
    try:
        while not stop.is_set():
            done, failed = run_round(jobs, settings=settings, stopping=stop.is_set)
            if once:
                break
            if not done:
                stop.wait(settings.worker_poll_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop.set()  # `once`, or an error: the USSD answers' thread ends with the worker
        wake.set()
        answers.join(timeout=30)
        getattr(sender, "close", lambda: None)()
        network.PROCESS_ADAPTERS.close()
        beat.stop()
        process_stopped(os.getpid())
        db.dispose()
        log.info("worker.stopped")
    return 1 if once and failed else 0
