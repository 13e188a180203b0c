"""Reminders for 100,000 lines on the embedded default: sweep them into the outbox, then deliver them, next to a
raw-SQL baseline doing the same work (queue one row per due line, then mark each sent after writing it out)."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.common import Sizes, note, report
from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.ids import new_id
from simkeep.db import Database
from simkeep.ledger.models import Account
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import rules
from simkeep.line.models import GRACE, Line
from simkeep.migrate import upgrade
from simkeep.notification.senders.file import FileSender
from simkeep.notification.tasks import deliver_due

OPERATOR = "fr-orange-mobicarte"  # 180 days of grace: the 30-day reminder falls inside it


def bench_reminders(sizes: Sizes) -> None:
    nlines = 100_000 if sizes.label == "full" else 10_000
    label = f"reminders_{nlines // 1000}k"
    with tempfile.TemporaryDirectory(prefix="simkeep-reminders-") as tmp:
        tmp_path = Path(tmp)
        ours_db, at = _build(tmp_path / "ours.db", nlines)
        raw_path = tmp_path / "raw.db"
        raw_path.write_bytes((tmp_path / "ours.db").read_bytes())

        started = time.perf_counter()
        swept = run_sweep(ours_db, now=at, links_base="https://recharge.example")
        sweep_s = time.perf_counter() - started
        sender = FileSender(tmp_path / "messages.log", echo=False)
        delivered = 0
        while sent := deliver_due(ours_db, sender, batch=500):
            delivered += sent
        total_s = time.perf_counter() - started
        ours_db.dispose()
        assert swept.reminders == nlines and delivered == nlines, (swept.reminders, delivered)

        raw_s = _raw(raw_path, at, tmp_path / "raw.log")
        report(f"{label}_sweep_s", round(sweep_s, 2), "s")
        report(f"{label}_deliver_s", round(total_s - sweep_s, 2), "s")
        report(f"{label}_total_s", round(total_s, 2), "s")
        report(f"{label}_per_s", round(nlines / total_s), "reminders/s")
        report(f"{label}_raw_s", round(raw_s, 2), "s")
        report(f"{label}_ratio", round(raw_s / total_s, 2), "raw s / ours s")


def _build(path: Path, nlines: int) -> tuple[Database, object]:
    """Lines in grace whose 30-day reminder is due (the worker was down): one line computed with the rules,
    copied n times. The sweep runs at the reminder's time, so delivery is due at once."""
    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database(url)
    now = clock.now()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        operator = catalog.get_operator(session, OPERATOR)
    # Validity ended 160 days ago: the 30-day reminder came due ten days ago, the 7-day one is still ahead.
    end = rules.initial_validity_end(operator, now - timedelta(days=190))
    stages = rules.stages(operator, end)
    first_due = rules.next_reminder_at(operator, stages.number_loss_at, None)
    at = first_due + timedelta(hours=1)
    note(f"{path.name}: building {nlines} lines")
    with db.transaction() as session:
        for start in range(0, nlines, 10_000):
            accounts, lines = [], []
            for n in range(start, min(start + 10_000, nlines)):
                line_id, credit, bonus = new_id(), new_id(), new_id()
                accounts += [dict(id=credit, code=f"subscriber_credit:{line_id}", kind="subscriber_credit",
                                  currency="EUR", balance_minor=0, created_at=now),
                             dict(id=bonus, code=f"subscriber_bonus:{line_id}", kind="subscriber_bonus",
                                  currency="EUR", balance_minor=0, created_at=now)]
                lines.append(dict(id=line_id, msisdn=f"+336{30_000_000 + n}", operator_id=OPERATOR, state=GRACE,
                                  language="fr", email=None, credit_account_id=credit, bonus_account_id=bonus,
                                  validity_ends_at=end, number_loss_at=stages.number_loss_at,
                                  available_at=stages.available_at, next_sweep_at=first_due, reminded_offset=None,
                                  created_at=now, state_changed_at=end, reminders_opted_out_at=None))
            session.execute(insert(Account.__table__), accounts)
            session.execute(insert(Line.__table__), lines)
    return db, at


def _raw(path: Path, at, log: Path) -> float:
    """The floor: one INSERT ... SELECT for the reminders, one UPDATE for the schedule, then a plain loop that
    writes each message and marks it sent in batches, all in SQL from one connection."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    now = at.replace(tzinfo=None).isoformat(sep=" ")
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO outbox (id, dedup_key, topic, channel, recipient, language, line_id, payload, status, attempts, "
        "next_attempt_at, created_at) SELECT lower(hex(randomblob(16))), 'reminder:' || id || ':30', 'reminder', "
        "'sms', msisdn, language, id, json_object('msisdn', msisdn, 'days_before', 30), 'pending', 0, ?, ? "
        "FROM lines WHERE next_sweep_at <= ?", (now, now, now))
    conn.execute("UPDATE lines SET reminded_offset = 30, next_sweep_at = ? WHERE next_sweep_at <= ?", (now, now))
    conn.execute("COMMIT")
    with log.open("a", encoding="utf-8") as out:
        while True:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute("SELECT id, recipient, payload FROM outbox WHERE status = 'pending' LIMIT 500").fetchall()
            if not rows:
                conn.execute("COMMIT")
                break
            for row_id, recipient, payload in rows:
                out.write(f"{row_id} {recipient} {payload}\n")
            out.flush()
            conn.executemany("UPDATE outbox SET status = 'sent', attempts = 1, sent_at = ? WHERE id = ?",
                             [(now, row_id) for row_id, _, _ in rows])
            conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed
