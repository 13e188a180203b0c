"""What checking a pooled connection before use costs: short read transactions (one `SELECT 1` each, the shape of
/healthz and of the smallest API reads) on one PostgreSQL connection, with the pool's pre-ping on and off,
alternated so that load from anything else on the machine falls on both alike."""

from __future__ import annotations

import time

from sqlalchemy import text

from bench.common import Sizes, pg_url, recreate_database, report
from simkeep.db import Database

DATABASE = "simkeep_bench_checkout"


def bench_checkout_pg(sizes: Sizes) -> None:
    recreate_database(DATABASE)
    databases = {ping: Database(pg_url(DATABASE), pool_pre_ping=ping, pool_size=1) for ping in (False, True)}
    elapsed = {False: 0.0, True: 0.0}
    per_round = 500 if sizes.label == "quick" else 2000
    for db in databases.values():  # connect outside the measure
        transaction(db)
    for _ in range(6):
        for ping, db in databases.items():
            started = time.perf_counter()
            for _ in range(per_round):
                transaction(db)
            elapsed[ping] += time.perf_counter() - started
    for db in databases.values():
        db.dispose()
    n = 6 * per_round
    plain, checked = n / elapsed[False], n / elapsed[True]
    report("checkout_pg_plain", round(plain), "tx/s")
    report("checkout_pg_pre_ping", round(checked), "tx/s")
    report("checkout_pg_pre_ping_cost", round((elapsed[True] - elapsed[False]) / n * 1e6, 1), "us")


def transaction(db: Database) -> None:
    with db.transaction(write=False) as session:
        session.execute(text("SELECT 1"))
