"""Top-ups over HTTP (wrk, 64 connections) against the raw ceiling of the same SQL: pgbench on PostgreSQL,
a plain sqlite3 loop on SQLite."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.capture import capture_topup, msisdn, pgbench_script, sqlite_raw_rate
from bench.common import (
    ADMIN_TOKEN,
    OUT,
    Sizes,
    build_stamp,
    console,
    database_stamp,
    note,
    pg_url,
    progress,
    read_sidecar,
    recreate_database,
    report,
    server,
    stamp_database,
    write_sidecar,
)
from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.migrate import upgrade
from simkeep.topup.models import TopUp

OPERATOR, OFFER = "fr-orange-mobicarte", "fr-orange-mobicarte-5"  # 7 days a top-up: far from the 730-day cap
PG_TEMPLATE, PG_DB = "simkeep_bench_topup_tpl", "simkeep_bench"
CONNECTIONS = 64
LUA = Path(__file__).with_name("topup.lua")


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    errors: int  # non-2xx answers and socket errors
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def bench_topup_pg(sizes: Sizes) -> None:
    nlines = sizes.topup_lines
    stamp = build_stamp("topup", nlines, month=clock.now().strftime("%Y-%m"))  # validity runs from the build
    if database_stamp(PG_TEMPLATE) != stamp:
        recreate_database(PG_TEMPLATE)
        create_lines(pg_url(PG_TEMPLATE), nlines)
        stamp_database(PG_TEMPLATE, stamp)
    runs = {}
    for workers in (1, 2, 3):  # each run on a fresh copy, so all start from the same rows
        recreate_database(PG_DB, PG_TEMPLATE)
        runs[workers] = run = http_topups({"SIMKEEP_DATABASE_URL": pg_url(PG_DB)}, workers=workers, sizes=sizes,
                                          name=f"topup_pg_w{workers}")
        report(f"topup_pg_http_w{workers}", round(run.rate), "req/s")
        report(f"topup_pg_http_w{workers}_errors", run.errors, "count")
    best = max(runs.values(), key=lambda r: r.rate)
    report("topup_pg_http", round(best.rate), "req/s")
    report("topup_pg_http_p50", best.p50_ms, "ms")
    report("topup_pg_http_p99", best.p99_ms, "ms")
    report("topup_pg_http_errors", best.errors, "count")

    recreate_database(PG_DB, PG_TEMPLATE)
    db = Database(pg_url(PG_DB))
    captured = capture_topup(db, number=msisdn(0), offer_id=OFFER)
    db.dispose()
    note(f"SQL of one top-up (PostgreSQL, captured):\n{captured.describe()}")
    script = OUT / "topup.pgbench"
    script.write_text(pgbench_script(captured, nlines))
    pgbench(PG_DB, script, sizes.warmup_seconds)
    tps = pgbench(PG_DB, script, sizes.run_seconds)
    report("topup_pg_pgbench", round(tps), "tx/s")
    report("topup_pg_ratio", round(best.rate / tps, 2), "x")


def bench_topup_sqlite(sizes: Sizes) -> None:
    nlines = sizes.topup_lines
    template = OUT / f"topup_{nlines}.db"
    stamp = build_stamp("topup", nlines, month=clock.now().strftime("%Y-%m"))
    if read_sidecar(template) != stamp:
        template.unlink(missing_ok=True)
        create_lines(f"sqlite:///{template}", nlines)
        write_sidecar(template, stamp)
    with tempfile.TemporaryDirectory(prefix="simkeep-bench-") as tmp:
        shutil.copy(template, Path(tmp) / "simkeep.db")
        run = http_topups({"SIMKEEP_DATA_DIR": tmp, "SIMKEEP_DATABASE_URL": ""}, workers=1, sizes=sizes,
                          name="topup_sqlite")
        raw_path = Path(tmp) / "raw.db"
        shutil.copy(template, raw_path)
        db = Database(f"sqlite:///{raw_path}")
        captured = capture_topup(db, number=msisdn(0), offer_id=OFFER)
        db.dispose()
        note(f"SQL of one top-up (SQLite, captured):\n{captured.describe()}")
        raw = sqlite_raw_rate(captured, str(raw_path), nlines=nlines, seconds=sizes.run_seconds,
                              warmup=sizes.warmup_seconds)
    report("topup_sqlite_http", round(run.rate), "req/s")
    report("topup_sqlite_http_p50", run.p50_ms, "ms")
    report("topup_sqlite_http_p99", run.p99_ms, "ms")
    report("topup_sqlite_http_errors", run.errors, "count")
    report("topup_sqlite_raw", round(raw), "tx/s")
    report("topup_sqlite_ratio", round(run.rate / raw, 2), "x")


def create_lines(url: str, nlines: int) -> None:
    """Bench lines made the way the service makes them: create_line, a thousand per transaction."""
    upgrade(url)
    db, now = Database(url), clock.now()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
    with progress() as bar:
        task = bar.add_task(f"creating {nlines} lines", total=nlines)
        for start in range(0, nlines, 1000):
            batch = range(start, min(start + 1000, nlines))
            with db.transaction() as session:
                for n in batch:
                    lines.create_line(session, msisdn=msisdn(n), operator_id=OPERATOR, now=now)
            bar.advance(task, len(batch))
    db.dispose()


def http_topups(env: dict[str, str], *, workers: int, sizes: Sizes, name: str) -> WrkRun:
    """A warm-up, then the measured wrk run; checks every 2xx answer left exactly one top-up row."""
    with server(workers=workers, env=env, log_name=name) as base:
        warmup = wrk(base, seconds=sizes.warmup_seconds, nlines=sizes.topup_lines)
        run = wrk(base, seconds=sizes.run_seconds, nlines=sizes.topup_lines)
    url = env.get("SIMKEEP_DATABASE_URL") or f"sqlite:///{env['SIMKEEP_DATA_DIR']}/simkeep.db"
    db = Database(url)
    with db.transaction(write=False) as session:
        stored = session.scalar(select(func.count()).select_from(TopUp))
    db.dispose()
    answered = warmup.requests - warmup.errors + run.requests - run.errors
    # wrk does not count requests still in flight when it stops, so up to one per connection per run is extra.
    if not 0 <= stored - answered <= 2 * CONNECTIONS:
        console.print(f"[red]{name}: {stored} top-ups stored but {answered} answered 2xx[/red]")
    return run


def wrk(base: str, *, seconds: int, nlines: int) -> WrkRun:
    env = {**os.environ, "BENCH_LINES": str(nlines), "BENCH_OFFER": OFFER, "BENCH_TOKEN": ADMIN_TOKEN,
           "BENCH_RUN": uuid.uuid4().hex[:12]}
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA),
                          base], capture_output=True, text=True, env=env, timeout=seconds + 60, check=True).stdout
    found = dict(re.findall(r"(\w+)=(\d+)", out[out.index("RESULT"):]))
    values = {k: int(v) for k, v in found.items()}
    return WrkRun(values["requests"], values["duration_us"] / 1e6, values["non2xx"] + values["socket_errors"],
                  values["p50_us"] / 1000, values["p99_us"] / 1000)


def pgbench(database: str, script: Path, seconds: int) -> float:
    out = subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-M", "prepared",
                          "-c", str(CONNECTIONS), "-j", "2", "-T", str(seconds), "-f", str(script), database],
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed[1]):
        console.print(f"[red]pgbench: {failed[1]} failed transactions[/red]")
    return float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)[1])
