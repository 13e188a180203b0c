"""SMS commands answered per second: a deliver_sm "SOLDE" from the test SMSC (tests/notification/smsc.py) on
127.0.0.1, through the real SmppSender and the worker's listener (the inbound row under its SMSC id, the line,
its balance read from the ledger, the reply written to the outbox), until the SMSC has its deliver_sm_resp.
Each sender is another line, so the per-sender flood limit is not what is measured.

Raw baselines, measured in the same run over the same link and database: the same deliver_sm recorded as a plain
inbound text (record_inbound with no command: the row and the line lookup, one transaction), and the transport
alone (a listener that records nothing)."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime

from tests.notification.smsc import Smsc

from bench.common import OUT, Sizes, drop_database, note, pg_url, recreate_database, report
from simkeep.config import Settings
from simkeep.db import Database

DATABASE = "bench_sms_commands"
SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"


def bench_sms_commands_sqlite(sizes: Sizes) -> None:
    folder = OUT / "sms_commands"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        _run(f"sqlite:///{folder / 'sms.db'}", _count(sizes), "sms_commands_sqlite")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_sms_commands_pg(sizes: Sizes) -> None:
    recreate_database(DATABASE)
    try:
        _run(pg_url(DATABASE), _count(sizes), "sms_commands_pg")
    finally:
        drop_database(DATABASE)


def _count(sizes: Sizes) -> int:
    return 300 if sizes.label == "quick" else 3_000


class _Nothing:
    """The transport baseline's listener."""

    def receipt(self, external_id: str, status: str) -> None:
        pass

    def inbound(self, sender: str, text: str, message_id: str | None = None) -> None:
        pass


def _run(url: str, n: int, name: str) -> None:
    from simkeep.catalog import service as catalog
    from simkeep.line import service as lines
    from simkeep.migrate import upgrade
    from simkeep.notification.tasks import DbListener
    from simkeep.worker import inbound_commands

    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    numbers = [f"336{20_000_000 + i:08d}" for i in range(n)]
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        for number in numbers:
            lines.create_line(session, msisdn=f"+{number}", operator_id="fr-orange-mobicarte", language="fr", now=now)
    settings = Settings(database_url=url, secret_key=SECRET, sms_commands_per_sender="1000 per minute")
    try:
        with Smsc(record=False) as smsc:
            commands = _rate(smsc, DbListener(db, inbound_commands(settings)), numbers, "SOLDE", "a")
            plain = _rate(smsc, DbListener(db), numbers, "hello", "b")
            transport = _rate(smsc, _Nothing(), numbers, "SOLDE", "c")
    finally:
        db.dispose()
    note(f"{name}: {n} SOLDE answered, {n} plain texts recorded, {n} deliver_sm with no work")
    report(f"{name}_per_s", round(commands), "commands/s")
    report(f"{name}_plain_inbound_per_s", round(plain), "msg/s")
    report(f"{name}_transport_per_s", round(transport), "msg/s")
    report(f"{name}_ratio", round(commands / plain, 2), "x")


def _rate(smsc: Smsc, listener, numbers: list[str], text: str, tag: str) -> float:
    from simkeep.notification.senders.smpp import SmppSender

    sender = SmppSender(smsc.url(), listener=listener, rate_per_second=0)
    try:
        if not sender.wait_bound(10):
            raise RuntimeError("SmppSender did not bind to the test SMSC")
        for i, number in enumerate(numbers[:20]):  # warm-up: connections, caches
            smsc.deliver_mo(number, text, message_id=f"warm-{tag}-{i}")
        started = time.perf_counter()
        for i, number in enumerate(numbers):
            if smsc.deliver_mo(number, text, message_id=f"{tag}-{i}") != 0:
                raise RuntimeError("deliver_sm refused")
        return len(numbers) / (time.perf_counter() - started)
    finally:
        sender.close()
