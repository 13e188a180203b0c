"""The audit log's hash chain on PostgreSQL: how fast entries are appended (one per transaction, several writers at
once, all serialised on the chain's lock at commit) against a raw psycopg baseline doing the same statements, and
how fast `verify` walks a long chain, with the memory it needs (it streams pages of 1,000: constant).

    bench: audit_record_pg_per_s       entries committed per second, 4 writers, through audit.service.record
    bench: audit_record_raw_pg_per_s   the same transaction in raw SQL (lock, read the head, insert): the floor
    bench: audit_verify_pg_per_s       entries verified per second (hash recomputed, links and seq checked)
    bench: audit_verify_cli_s          `simkeep audit verify` on that chain, end to end
    bench: audit_verify_cli_extra_mb   its peak resident memory above `simkeep audit list --limit 1`'s (the same
                                       process reading one entry): what walking the whole chain costs in memory
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg

from bench.common import Sizes, drop_database, note, pg_dsn, pg_url, recreate_database, report
from simkeep.audit import chain, repository, service
from simkeep.db import Database
from simkeep.migrate import upgrade

PG_DB = "simkeep_bench_audit"
WRITERS = 4
DETAILS = {"amount_minor": 1000, "currency": "EUR"}


def bench_audit_pg(sizes: Sizes) -> None:
    entries = 1_000_000 if sizes.label == "full" else 100_000
    recreate_database(PG_DB)
    try:
        upgrade(pg_url(PG_DB))
        db = Database(pg_url(PG_DB))
        try:
            report("audit_record_pg_per_s", _writers(lambda: _record_one(db), sizes.run_seconds), "entries/s")
            report("audit_record_raw_pg_per_s", _writers(_raw_loop(), sizes.run_seconds), "entries/s")
            _fill(db, entries)
            _verify(db)
        finally:
            db.dispose()
    finally:
        drop_database(PG_DB)


def _record_one(db: Database) -> None:
    with db.transaction() as session:
        service.record(session, actor="staff:bench", action="refund.requested", subject_type="payment_attempt",
                       subject_id=str(uuid.uuid4()), reason="bench", details=DETAILS, now=datetime.now(UTC))


def _raw_loop():
    """A writer's loop in raw psycopg: the statements `record` ends up running at commit, prepared."""
    local = threading.local()

    def one() -> None:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(pg_dsn(PG_DB), prepare_threshold=0)
        conn = local.conn
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [repository.CHAIN_LOCK_KEY])
            row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, chain.GENESIS)
            entry = dict(id=uuid.uuid4(), seq=seq, at=datetime.now(UTC), actor="staff:bench",
                         action="refund.requested", subject_type="payment_attempt", subject_id=str(uuid.uuid4()),
                         reason="bench", details=DETAILS, prev_hash=prev)
            conn.execute("INSERT INTO audit_log (id, seq, at, actor, action, subject_type, subject_id, reason, "
                         "details, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         [entry["id"], seq, entry["at"], entry["actor"], entry["action"], entry["subject_type"],
                          entry["subject_id"], entry["reason"], psycopg.types.json.Jsonb(DETAILS), prev,
                          chain.entry_hash(**entry)])
    return one


def _writers(one, seconds: int) -> float:
    """WRITERS threads calling `one` until the time is up; committed entries per second."""
    done = [0] * WRITERS
    stop = time.perf_counter() + seconds

    def loop(n: int) -> None:
        while time.perf_counter() < stop:
            one()
            done[n] += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(WRITERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def _fill(db: Database, entries: int) -> None:
    """Grow the chain to `entries` through `record`, 10,000 to a transaction (linked at each commit)."""
    started = time.perf_counter()
    with db.transaction(write=False) as session:
        missing = entries - service.count(session)
    while missing > 0:
        batch = min(missing, 10_000)
        with db.transaction() as session:
            for _ in range(batch):
                service.record(session, actor="staff:bench", action="store.updated", subject_type="store",
                               subject_id="BENCH-1", reason="bench", details=DETAILS, now=datetime.now(UTC))
        missing -= batch
    note(f"audit: chain of {entries:,} entries in {time.perf_counter() - started:.1f} s")


def _verify(db: Database) -> None:
    started = time.perf_counter()
    with db.transaction(write=False) as session:
        verdict = service.verify(session)
    seconds = time.perf_counter() - started
    assert verdict.broken is None, verdict.broken
    note(f"audit: verified {verdict.entries:,} entries in {seconds:.1f} s")
    report("audit_verify_pg_per_s", verdict.entries / seconds, "entries/s")
    started = time.perf_counter()
    verify_kb, out = _peak_kb("audit", "verify")
    report("audit_verify_cli_s", time.perf_counter() - started, "s")
    note(f"audit: {out.strip()}")
    list_kb, _ = _peak_kb("audit", "list", "--limit", "1")
    report("audit_verify_cli_extra_mb", (verify_kb - list_kb) / 1024, "MB")


PEAK = """import resource, sys
from simkeep.cli import app
try:
    app(sys.argv[1:], prog_name="simkeep")
except SystemExit as exit_:
    assert not exit_.code, exit_.code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _peak_kb(*args: str) -> tuple[int, str]:
    """Run a simkeep command in a process of its own: its peak resident memory (KB) and its output."""
    done = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "SIMKEEP_DATABASE_URL": pg_url(PG_DB)})
    return int(done.stderr.strip().splitlines()[-1]), done.stdout
