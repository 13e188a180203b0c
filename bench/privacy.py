"""Personal data: what one erasure and one access request cost among many other subscribers.

Lines with a top-up each (its receipt, ledger entry and confirmation SMS in the outbox) and a portal session each;
then lines are closed and erased one per transaction (`privacy.erase --close-line`: the closure, the forfeit, every
table's statement and the audit row) and exported (`privacy.export` without the receipt PDFs' rendering, measured
on its own by bench/receipts.py), against the raw baseline of the same number of transactions that only replace the
line's number and e-mail. p50 of each, in this run on the same PostgreSQL database."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bench.common import Sizes, drop_database, note, pg_url, recreate_database, report
from simkeep.db import Database

PG_DB = "simkeep_bench_privacy"
OFFER = "fr-orange-mobicarte-10"
SAMPLES = 40
KEY = "bench-privacy-key"


def bench_privacy_pg(sizes: Sizes) -> None:
    recreate_database(PG_DB)
    try:
        _run(pg_url(PG_DB), sizes.topup_lines * 5, "privacy_pg")
    finally:
        drop_database(PG_DB)


def _run(url: str, n: int, name: str) -> None:
    from simkeep.catalog import service as catalog
    from simkeep.line import service as lines
    from simkeep.line.models import Line
    from simkeep.migrate import upgrade
    from simkeep.privacy import service as privacy
    from simkeep.session import service as sessions
    from simkeep.topup import service as topups

    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    policy = sessions.Policy(idle=timedelta(hours=1), absolute=timedelta(days=1))
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
    numbers = [f"+336{10_000_000 + i:08d}" for i in range(n)]
    started = time.perf_counter()
    for start in range(0, n, 1000):
        with db.transaction() as session:
            for i, number in enumerate(numbers[start:start + 1000], start):
                lines.create_line(session, msisdn=number, operator_id="fr-orange-mobicarte", language="fr",
                                  email=f"subscriber{i}@example.com", now=now)
                topups.top_up(session, principal="bench", idempotency_key=f"k{i}", msisdn=number, offer_id=OFFER,
                              channel="api", now=now)
                sessions.create(session, data={"msisdn": number}, policy=policy, now=now)
    note(f"{name}: {n} subscribers made in {time.perf_counter() - started:.0f} s")

    def timed(work, subjects) -> list[float]:
        took = []
        for subject in subjects:
            began = time.perf_counter()
            with db.transaction() as session:
                work(session, subject)
            took.append((time.perf_counter() - began) * 1000)
        return took

    def export(session, number):
        privacy.export(session, subject=privacy.Subject(msisdn=number, email=None), reason="bench", actor="bench",
                       receipt_key=KEY, base_url="http://bench", now=now, pdfs=False)

    def erase(session, number):
        privacy.erase(session, subject=privacy.Subject(msisdn=number, email=None), reason="bench", actor="bench",
                      key=KEY, close_line=True, now=now)

    def baseline(session, number):
        session.execute(update(Line).where(Line.msisdn == number).values(msisdn="x" + number[-15:], email=None))

    exported = timed(export, numbers[:SAMPLES])
    erased = timed(erase, numbers[SAMPLES:2 * SAMPLES])
    raw = timed(baseline, numbers[2 * SAMPLES:3 * SAMPLES])
    report(f"{name}_export_p50", statistics.median(exported), f"ms ({n} subscribers, JSON only)")
    report(f"{name}_erase_p50", statistics.median(erased), f"ms ({n} subscribers, line closed first)")
    report(f"{name}_raw_baseline_p50", statistics.median(raw), "ms (number and e-mail replaced, nothing else)")
    db.dispose()
