"""The back office's line search (history.search) on a big PostgreSQL database, against the one raw SQL lookup
each key needs, in the same run.

The lines are bench/sweep_build.py's (1M at full size, 100k quick, built with SQL as the service would write them);
one line in ten also gets what a customer quotes: an e-mail (mixed case), a top-up with its receipt, a card payment
with its provider reference, and a redeemed recharge card (all rows made with SQL; the top-ups share one journal
entry, which a search never reads). Each key is searched as staff type it (a national number with spaces, an e-mail
in another case ...). The plan of every raw lookup must use an index (asserted, and printed)."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

import psycopg

from bench.common import Sizes, drop_database, note, pg_dsn, pg_url, recreate_database, report
from bench.sweep_build import build_pg
from simkeep.db import Database
from simkeep.history import search as finder

PG_DB = "simkeep_bench_line_search"
EVERY = 10  # one line in ten has an e-mail, a receipt, a payment and a card
WARMUP, QUERIES = 200, 2000
SERIAL0 = 100_000_000_000

# What a customer quotes for bench line n, and the raw lookup that answers it.
KEYS: dict[str, tuple[Callable[[int], str], str, str]] = {
    "number": (lambda n: f"06 {str(10_000_000 + n)[:2]} {str(10_000_000 + n)[2:5]} {str(10_000_000 + n)[5:]}",
               "SELECT id FROM lines WHERE msisdn = %s ORDER BY created_at DESC, id DESC LIMIT 50",
               "uq_lines_live_msisdn|ix_lines_msisdn_created"),
    "email": (lambda n: f"user{n}@EXAMPLE.org",
              "SELECT id FROM lines WHERE lower(email) = lower(%s) ORDER BY created_at DESC, id DESC LIMIT 50",
              "ix_lines_email_lower"),
    "receipt": (lambda n: f"BENCH-2026-{n:07d}", "SELECT line_id FROM receipts WHERE number = %s",
                "uq_receipts_number"),
    "payment_ref": (lambda n: f"pi_bench_{n}", "SELECT line_id FROM payment_attempts WHERE provider_ref = %s",
                    "ix_payment_attempts_provider_ref"),
    "voucher_serial": (lambda n: str(SERIAL0 + n),
                       "SELECT t.line_id FROM vouchers v JOIN topups t ON t.id = v.topup_id WHERE v.serial = %s",
                       "pk_vouchers"),
}
RAW_ARG = {"number": lambda n: f"+336{10_000_000 + n}", "email": lambda n: f"user{n}@EXAMPLE.org",
           "receipt": lambda n: f"BENCH-2026-{n:07d}", "payment_ref": lambda n: f"pi_bench_{n}",
           "voucher_serial": lambda n: SERIAL0 + n}

_FILL = """
INSERT INTO journal_entries (id, kind, reference, created_at) VALUES
  ('00000000-0000-7000-8000-000000000001', 'topup', 'bench:line_search', now());
INSERT INTO voucher_batches (id, kind, operator_id, offer_id, face_value_minor, currency, validity_days, serial_from,
                             serial_to, quantity, expires_at, created_by, reason, created_at)
SELECT '00000000-0000-7000-8000-000000000002', 'physical', o.operator_id, o.id, o.price_minor, 'EUR', o.validity_days,
       {serial0}, {serial0} + {n}, {n} + 1, now() + interval '1 year', 'bench', 'bench', now()
FROM offers o ORDER BY o.id LIMIT 1;
CREATE TEMP TABLE bench_pick AS
SELECT l.*, (substr(l.msisdn, 5)::bigint - 10000000) AS n,
       (SELECT o.id FROM offers o WHERE o.operator_id = l.operator_id ORDER BY o.price_minor, o.id LIMIT 1) AS offer_id,
       md5(l.id::text)::uuid AS topup_id, md5('r' || l.id::text)::uuid AS receipt_id
FROM lines l WHERE mod(substr(l.msisdn, 5)::bigint - 10000000, {every}) = 0;
UPDATE lines l SET email = 'User' || p.n || '@Example.org' FROM bench_pick p WHERE l.id = p.id;
INSERT INTO topups (id, principal, idempotency_key, request_hash, line_id, msisdn, offer_id, channel, status,
                    price_minor, bonus_minor, currency, validity_before, validity_ends_at, journal_entry_id, created_at)
SELECT p.topup_id, 'bench', 'k' || p.n, 'bench', p.id, p.msisdn, p.offer_id, 'portal', 'completed', 1000, 0, 'EUR',
       p.validity_ends_at, p.validity_ends_at, '00000000-0000-7000-8000-000000000001', p.created_at FROM bench_pick p;
INSERT INTO receipts (id, number, topup_id, operator_id, line_id, msisdn, offer_id, amount_minor, currency,
                      payment_method, validity_ends_at, language, issued_at)
SELECT p.receipt_id, 'BENCH-2026-' || lpad(p.n::text, 7, '0'), p.topup_id, p.operator_id, p.id, p.msisdn, p.offer_id,
       1000, 'EUR', 'card', p.validity_ends_at, 'fr', p.created_at FROM bench_pick p;
INSERT INTO payment_attempts (id, checkout_key, line_id, msisdn, offer_id, amount_minor, currency, method, provider,
                              provider_ref, status, language, topup_id, receipt_id, created_at, updated_at)
SELECT md5('p' || p.id::text)::uuid, 'ck' || p.n, p.id, p.msisdn, p.offer_id, 1000, 'EUR', 'card', 'stripe',
       'pi_bench_' || p.n, 'succeeded', 'fr', p.topup_id, p.receipt_id, p.created_at, p.created_at FROM bench_pick p;
INSERT INTO vouchers (serial, batch_id, pin_hash, state, expires_at, redeemed_at, redeemed_msisdn, redeemed_via,
                      topup_id)
SELECT {serial0} + p.n, '00000000-0000-7000-8000-000000000002', decode(md5('pin' || p.n) || md5('x' || p.n), 'hex'),
       'redeemed', now() + interval '1 year', p.created_at, p.msisdn, 'api', p.topup_id FROM bench_pick p;
"""


def _timed(run: Callable[[int], object], picks: list[int]) -> tuple[float, float]:
    for n in picks[:WARMUP]:
        run(n)
    spent = []
    for n in picks[WARMUP:]:
        started = time.perf_counter()
        run(n)
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.95) - 1]


def _fill(nlines: int) -> None:
    build_pg(PG_DB, nlines)
    with psycopg.connect(pg_dsn(PG_DB), autocommit=True) as conn:
        with conn.transaction():
            conn.execute(_FILL.format(serial0=SERIAL0, n=nlines, every=EVERY))
        conn.execute("VACUUM ANALYZE")


def bench_line_search_pg(sizes: Sizes) -> None:
    nlines = 1_000_000 if sizes.label == "full" else 100_000
    name = f"line_search_{nlines // 1000}k_pg"
    recreate_database(PG_DB)
    try:
        _fill(nlines)
        picks = [random.Random(7).randrange(0, nlines // EVERY) * EVERY for _ in range(WARMUP + QUERIES)]
        db = Database(pg_url(PG_DB))
        with psycopg.connect(pg_dsn(PG_DB), autocommit=True) as conn:
            for key, (typed, raw_sql, index) in KEYS.items():
                plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + raw_sql, (RAW_ARG[key](picks[0]),)))
                assert any(name_ in plan for name_ in index.split("|")), plan
                note(f"{name} {key}: the raw lookup's plan uses its index:\n{plan}")
                with db.transaction(write=False) as session:
                    found = finder.search(session, typed(picks[0]), region="FR")
                assert len(found.found) == 1 and key in found.found[0].matched, (key, found)

                def service(n: int, typed=typed) -> None:
                    with db.transaction(write=False) as session:
                        finder.search(session, typed(n), region="FR")

                def raw(n: int, key=key, raw_sql=raw_sql) -> None:
                    conn.execute(raw_sql, (RAW_ARG[key](n),), prepare=True).fetchall()

                service_p50, service_p95 = _timed(service, picks)
                raw_p50, _ = _timed(raw, picks)
                report(f"{name}_{key}_service_p50_ms", round(service_p50, 3), "ms")
                report(f"{name}_{key}_service_p95_ms", round(service_p95, 3), "ms")
                report(f"{name}_{key}_raw_p50_ms", round(raw_p50, 3), "ms")
                report(f"{name}_{key}_service_vs_raw_p50", round(service_p50 / raw_p50, 1), "x")
        db.dispose()
    finally:
        drop_database(PG_DB)
