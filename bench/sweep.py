"""One day's lifecycle sweep on a big database: simkeep.lifecycle.tasks.run_sweep against a raw-SQL sweep of
the same rows. The built databases are kept (a PostgreSQL template, an SQLite file) and each run works on a
fresh copy, because a sweep changes the rows it sweeps."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import datetime

from sqlalchemy import bindparam, text

from bench.common import (
    OUT,
    Sizes,
    build_stamp,
    database_stamp,
    drop_database,
    note,
    pg_admin,
    pg_url,
    read_sidecar,
    recreate_database,
    report,
    size_label,
    stamp_database,
    write_sidecar,
)
from bench.sweep_build import DAY0, build_pg, build_sqlite, sweep_instant
from simkeep.db import Database, UtcDateTime

PG_WORK = "simkeep_bench_sweep"


def bench_sweep_pg(sizes: Sizes) -> None:
    nlines, label = sizes.pg_sweep_lines, size_label(sizes.pg_sweep_lines)
    template = "simkeep_bench_sweep_tpl" if sizes.label == "full" else f"simkeep_bench_sweep_tpl_{label}"
    stamp = build_stamp("sweep", nlines, day0=DAY0.isoformat())
    if database_stamp(template) != stamp:
        started = time.perf_counter()
        recreate_database(template)
        build_pg(template, nlines)
        stamp_database(template, stamp)
        report(f"sweep_{label}_pg_build_s", round(time.perf_counter() - started, 1), "s")
    report(f"sweep_{label}_pg_copy_s", round(recreate_database(PG_WORK, template), 1), "s")
    try:
        _sweep_both(pg_url(PG_WORK), f"sweep_{label}_pg")
    finally:
        drop_database(PG_WORK)


def bench_sweep_sqlite(sizes: Sizes) -> None:
    nlines, label = sizes.sqlite_sweep_lines, size_label(sizes.sqlite_sweep_lines)
    template, work = OUT / f"sweep_{label}.db", OUT / f"sweep_{label}_work.db"
    stamp = build_stamp("sweep", nlines, day0=DAY0.isoformat())
    if read_sidecar(template) != stamp:
        started = time.perf_counter()
        template.unlink(missing_ok=True)
        build_sqlite(str(template), nlines)
        write_sidecar(template, stamp)
        report(f"sweep_{label}_sqlite_build_s", round(time.perf_counter() - started, 1), "s")
    started = time.perf_counter()
    shutil.copy(template, work)
    report(f"sweep_{label}_sqlite_copy_s", round(time.perf_counter() - started, 1), "s")
    try:
        _sweep_both(f"sqlite:///{work}", f"sweep_{label}_sqlite")
    finally:
        work.unlink(missing_ok=True)


def _sweep_both(url: str, name: str) -> None:
    # The raw sweep goes first and is rolled back, so the service's sweep then finds the same due rows. Each
    # starts after a checkpoint: the first change to a page after one writes the whole page to the WAL, and
    # neither sweep should find that already paid by the other.
    checkpoint(url)
    raw_seconds, raw_rows = raw_sweep(url, sweep_instant())
    checkpoint(url)
    child = subprocess.run([sys.executable, "-m", "bench.sweep", url, sweep_instant().isoformat()],
                           capture_output=True, text=True, timeout=3600)
    if child.returncode:
        raise RuntimeError(f"the timed sweep failed:\n{child.stderr}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    db = Database(url)
    with db.transaction(write=False) as session:
        messages = session.scalar(text("SELECT count(*) FROM outbox"))
    db.dispose()
    note(f"{name}: {result['lines']} lines, transitions {result['transitions']}, "
                  f"{result['reminders']} reminders, {messages} outbox rows; raw SQL touched {raw_rows} lines; "
                  f"sweep process RSS {result['base_mb']:.0f} MB before, {result['peak_mb']:.0f} MB peak")
    report(f"{name}_s", round(result["seconds"], 2), "s")
    report(f"{name}_rows", result["lines"], "rows")
    report(f"{name}_outbox", messages, "rows")
    report(f"{name}_peak_mb", round(result["peak_mb"]), "MB")
    report(f"{name}_raw_s", round(raw_seconds, 2), "s")
    report(f"{name}_raw_rows", raw_rows, "rows")


def checkpoint(url: str) -> None:
    if url.startswith("postgresql"):
        with pg_admin() as conn:
            conn.execute("CHECKPOINT")


def timed_sweep(url: str, now: datetime) -> dict:
    """Run in a child process, so its peak RSS is the sweep's own (with interpreter and imports)."""
    from simkeep.lifecycle.tasks import run_sweep

    db = Database(url)
    base_mb = peak_rss_mb()
    started = time.perf_counter()
    result = run_sweep(db, now=now)
    seconds = time.perf_counter() - started
    db.dispose()
    return {"seconds": seconds, "lines": result.lines, "reminders": result.reminders,
            "transitions": result.transitions, "base_mb": base_mb, "peak_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """VmHWM, the peak RSS of this process image. (ru_maxrss would not do: Linux carries the parent's peak
    over fork and exec into the child's.)"""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


# The raw ceiling: the same due rows, the same columns written, one line event per state change and the same
# outbox rows per line (state change: an operator event and an SMS notice; otherwise the day's reminder), all
# in set-based SQL. The next sweep instant is simplified to the next stage start; it is the I/O that counts.
_DUE = """
    SELECT l.id, l.msisdn, l.language, l.state AS old_state, l.validity_ends_at, l.number_loss_at, l.available_at,
           {suspended_at} AS suspended_at, {first_offset} AS first_offset,
           CASE WHEN :now >= l.available_at THEN 'available'
                WHEN :now >= {quarantine_at} THEN 'quarantine'
                WHEN :now >= l.number_loss_at THEN 'deactivated'
                WHEN :now >= {suspended_at} THEN 'suspended'
                WHEN :now >= l.validity_ends_at THEN 'grace'
                ELSE l.state END AS new_state
    FROM lines l JOIN operators o ON o.id = l.operator_id
    WHERE l.next_sweep_at <= :now"""
_RAW_SWEEP = [
    """WITH due AS ({due})
    INSERT INTO line_events (id, line_id, from_state, to_state, reason, at)
    SELECT {new_uuid}, id, old_state, new_state, 'sweep', :now FROM due WHERE new_state <> old_state""",
    """WITH due AS ({due}), kinds(kind, channel, on_change) AS (
        VALUES ('line.state_changed', 'event', 1), ('notice', 'sms', 1), ('reminder', 'sms', 0))
    INSERT INTO outbox (id, dedup_key, topic, channel, recipient, language, line_id, payload, status, attempts,
                        next_attempt_at, locked_until, last_error, created_at, sent_at)
    SELECT {new_uuid}, k.kind || ':' || d.id || ':' || d.validity_ends_at,
           CASE k.kind WHEN 'notice' THEN 'line.' || d.new_state ELSE k.kind END, k.channel,
           CASE k.channel WHEN 'event' THEN 'operator' ELSE d.msisdn END, d.language, d.id,
           {json}('msisdn', d.msisdn, 'state', d.new_state, 'number_loss_at', d.number_loss_at),
           'pending', 0, :now, NULL, NULL, :now, NULL
    FROM due d JOIN kinds k ON k.on_change = CASE WHEN d.new_state <> d.old_state THEN 1 ELSE 0 END""",
    """UPDATE lines SET state = due.new_state,
        state_changed_at = CASE WHEN due.new_state <> due.old_state THEN :now ELSE lines.state_changed_at END,
        reminded_offset = CASE WHEN due.new_state = due.old_state THEN due.first_offset
                               ELSE lines.reminded_offset END,
        next_sweep_at = CASE due.new_state WHEN 'grace' THEN due.suspended_at WHEN 'suspended' THEN due.number_loss_at
                             WHEN 'deactivated' THEN {quarantine_at_due} WHEN 'quarantine' THEN due.available_at
                             WHEN 'available' THEN NULL ELSE due.validity_ends_at END
    FROM ({due}) AS due WHERE lines.id = due.id""",
]
_DIALECT = {
    "postgresql": {
        "suspended_at": "(l.number_loss_at - o.suspended_days * interval '1 day')",
        "quarantine_at": "(l.number_loss_at + interval '1 day')",
        "quarantine_at_due": "(due.number_loss_at + interval '1 day')",
        "first_offset": "CAST(o.reminder_offsets ->> 0 AS integer)",
        "new_uuid": "gen_random_uuid()", "json": "jsonb_build_object",
    },
    "sqlite": {
        "suspended_at": "strftime('%Y-%m-%d %H:%M:%f000', l.number_loss_at, -o.suspended_days || ' days')",
        "quarantine_at": "strftime('%Y-%m-%d %H:%M:%f000', l.number_loss_at, '+1 days')",
        "quarantine_at_due": "strftime('%Y-%m-%d %H:%M:%f000', due.number_loss_at, '+1 days')",
        "first_offset": "json_extract(o.reminder_offsets, '$[0]')",
        "new_uuid": "lower(hex(randomblob(16)))", "json": "json_object",
    },
}


def raw_sweep(url: str, now: datetime) -> tuple[float, int]:
    """Seconds and lines updated; rolled back, so the database is left as it was."""
    db = Database(url)
    parts = _DIALECT[db.dialect]
    due = _DUE.format(**parts)
    statements = [text(sql.format(due=due, **parts)).bindparams(bindparam("now", type_=UtcDateTime()))
                  for sql in _RAW_SWEEP]
    with db.engine.connect() as conn:
        transaction = conn.begin()
        started = time.perf_counter()
        updated = [conn.execute(statement, {"now": now}).rowcount for statement in statements][-1]
        seconds = time.perf_counter() - started
        transaction.rollback()
    db.dispose()
    return seconds, updated


if __name__ == "__main__":
    print(json.dumps(timed_sweep(sys.argv[1], datetime.fromisoformat(sys.argv[2]))))
