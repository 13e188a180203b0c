"""USSD round trip: a handset's PDU in (deliver_sm from the test SMSC, tests/notification/smsc.py) to our screen
out (the submit_sm the SMSC receives), through what the worker runs: SmppSender's listener thread runs the menu in
one transaction and queues the answer in the outbox, wakes the worker's thread for USSD answers
(worker.deliver_ussd), which leases the message and submits it. Each session dials *100#, asks for the balance and exits (three round trips; the balance reads the ledger).

The raw baseline is the same SMPP round trip answered by a do-nothing handler: the listener submits a fixed
screen at once, with no database and no outbox. Both on 127.0.0.1, one session at a time, as a handset waits
for each screen before it types."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tests.notification.smsc import Received, Smsc

from bench.common import Sizes, drop_database, note, pg_url, recreate_database, report
from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.migrate import upgrade
from simkeep.notification.senders.base import Outgoing, UssdIn
from simkeep.notification.senders.smpp import SmppSender
from simkeep.notification.tasks import DbListener
from simkeep.topup import service as topups
from simkeep.ussd import tasks
from simkeep.worker import deliver_ussd

OPEN, CONFIRM = 1, 18
LINES = 50
PG_DATABASE = "simkeep_bench_ussd"


def bench_ussd(sizes: Sizes) -> None:
    """On SQLite (the embedded default) and PostgreSQL, then the raw baseline."""
    sessions = 100 if sizes.label == "quick" else 1_000
    with tempfile.TemporaryDirectory(prefix="simkeep-ussd-") as tmp, Smsc() as smsc:
        sqlite = _ours(smsc, _database(f"sqlite:///{Path(tmp) / 'ussd.db'}"), Path(tmp), sessions)
        smsc.received.clear()
        recreate_database(PG_DATABASE)
        try:
            pg = _ours(smsc, _database(pg_url(PG_DATABASE)), Path(tmp), sessions)
        finally:
            drop_database(PG_DATABASE)
        smsc.received.clear()
        raw = _raw(smsc, sessions)
    for name, times in (("ussd_rtt_sqlite", sqlite), ("ussd_rtt_pg", pg), ("ussd_raw_rtt", raw)):
        report(f"{name}_p50", round(_quantile(times, 0.50), 2), "ms")
        report(f"{name}_p95", round(_quantile(times, 0.95), 2), "ms")
    for name, times in (("sqlite", sqlite), ("pg", pg)):
        report(f"ussd_sessions_per_s_{name}", round(1000 / (3 * _mean(times)), 1), "sessions/s (one at a time)")
        report(f"ussd_rtt_ratio_{name}", round(_quantile(times, 0.5) / _quantile(raw, 0.5), 2), "x (p50 / raw)")


def _ours(smsc: Smsc, db: Database, tmp: Path, sessions: int) -> list[float]:
    settings = Settings(database_url=db.url, data_dir=tmp, ussd_timeout_seconds=180)
    wake, stop = threading.Event(), threading.Event()
    sender = SmppSender(smsc.url(), listener=DbListener(db, ussd_menu=tasks.menu(settings), wake=wake.set),
                        rate_per_second=0)

    loop = threading.Thread(target=deliver_ussd, args=(db, sender, settings, wake, stop), name="ussd-answers",
                            daemon=True)  # the worker's thread for USSD answers
    loop.start()
    try:
        if not sender.wait_bound(10):
            raise RuntimeError("SmppSender did not bind to the test SMSC")
        times = _dialogues(smsc, sessions)
    finally:
        stop.set()
        wake.set()
        loop.join(timeout=5)
        sender.close()
        db.dispose()
    note(f"ussd: {sessions} sessions through the menu on {db.dialect}, {len(times)} round trips")
    return times


class _Echo:
    """The do-nothing handler: each USSD PDU is answered at once with a fixed screen, nothing recorded."""

    sender: SmppSender

    def receipt(self, external_id: str, status: str) -> None:
        pass

    def inbound(self, sender: str, text: str) -> None:
        pass

    def ussd(self, message: UssdIn) -> None:
        info = message.session_info or 0
        self.sender.send(Outgoing(
            id=uuid.uuid4(), topic="ussd.answer", channel="ussd", recipient=message.sender, language="en",
            text="", attempt=1, payload={"text": "1 Balance\n2 Renew\n3 Language\n0 Exit", "op": 2,
                                         "session_info": info + 2, "until": "9999-12-31T00:00:00+00:00"}))


def _raw(smsc: Smsc, sessions: int) -> list[float]:
    echo = _Echo()
    echo.sender = SmppSender(smsc.url(), listener=echo, rate_per_second=0)
    try:
        if not echo.sender.wait_bound(10):
            raise RuntimeError("SmppSender did not bind to the test SMSC")
        return _dialogues(smsc, sessions)
    finally:
        echo.sender.close()


def _dialogues(smsc: Smsc, sessions: int) -> list[float]:
    """Milliseconds from each deliver_sm sent to its answer's submit_sm received, over `sessions` dialogues."""
    times: list[float] = []
    for n in range(sessions):
        msisdn, session = f"3361000{n % LINES:04d}", n % 256
        for sequence, (text, op) in enumerate((("*100#", OPEN), ("1", CONFIRM), ("0", CONFIRM))):
            before = len(smsc.received)
            started = time.monotonic()
            smsc.deliver_ussd(msisdn, text, op, session << 8 | (2 * sequence) << 1)
            while not (answer := _ussd_answer(smsc.received[before:])):
                time.sleep(0.0002)
            times.append(1000 * (answer.at - started))
    return times


def _ussd_answer(received: list[Received]) -> Received | None:
    return next((pdu for pdu in received if pdu.command == "submit_sm" and pdu.service_type == "USSD"), None)


def _database(url: str) -> Database:
    upgrade(url)
    db = Database(url)
    now = clock.now()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        for n in range(LINES):
            msisdn = f"+3361000{n:04d}"
            lines.create_line(session, msisdn=msisdn, operator_id="fr-orange-mobicarte", language="fr", now=now)
            topups.top_up(session, principal="bench", idempotency_key=f"b{n}", msisdn=msisdn,
                          offer_id="fr-orange-mobicarte-10", channel="api", now=now)
    return db


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]
