"""The dashboard's chart queries on a big PostgreSQL database: simkeep.report.service against a hand-written
psycopg query of the same aggregate (PostgreSQL's own `AT TIME ZONE` days), p50 over several runs, in one run.

The database is the sweep benchmark's lines (bench.sweep_build: every line active, number-loss dates spread over a
year after DAY0) plus, made with SQL: a top-up for one line in five over the 90 days before NOW (its journal entry
and postings, a payment attempt for those paid through a provider), a failed attempt for one line in fifty, an SMS
reminder for one line in four, a loss and a return to the pool for one line in forty each, and a few review items.
The dashboard asks for the 30 days up to NOW, for all operators and for one. The built database is kept as a
stamped template; the queries only read it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg

from bench.common import (
    Sizes,
    build_stamp,
    database_stamp,
    note,
    pg_dsn,
    pg_url,
    progress,
    recreate_database,
    report,
    size_label,
    stamp_database,
)
from bench.sweep_build import CREATED0, DAY0, _load_pg_table, build_pg, sweep_instant
from simkeep.db import Database
from simkeep.ledger import service as ledger
from simkeep.report import service as report_service

RUNS = 5
NOW = sweep_instant()
SPREAD_S = 90 * 86400  # activity lies in the 90 days before NOW
CHANNELS = ("portal", "voucher", "agent", "auto_renew", "sms", "api")
METHODS = ("card", "paypal", "wechat_pay", "alipay")

_LINE = ("(lpad(to_hex({ms0} + g.n), 12, '0') || '7' || lpad(to_hex({kind}), 3, '0') || '8' "
         "|| lpad(to_hex(g.n), 15, '0'))::uuid")
_AT = "(timestamptz '{now}' - ((g.n::bigint * {prime}) %% {spread}) * interval '1 second')"
_SERIES = "generate_series(%(start)s, %(stop)s - 1) g(n)"


def bench_dashboard_pg(sizes: Sizes) -> None:
    nlines, label = sizes.pg_sweep_lines, size_label(sizes.pg_sweep_lines)
    template = f"simkeep_bench_dashboard_{label}"
    stamp = build_stamp("dashboard", nlines, day0=DAY0.isoformat())
    if database_stamp(template) != stamp:
        started = time.perf_counter()
        recreate_database(template)
        build_pg(template, nlines)
        add_activity(template, nlines)
        stamp_database(template, stamp)
        report(f"dashboard_{label}_pg_build_s", round(time.perf_counter() - started, 1), "s")
    measure(template, label)


# --- the activity ----------------------------------------------------------------------------------------------

def add_activity(database: str, nlines: int) -> None:
    fmt = {"ms0": int(CREATED0.timestamp() * 1000), "now": NOW.isoformat(), "spread": SPREAD_S}
    line = _LINE.format(kind=0, **fmt)
    topup_at = _AT.format(prime=7919, **fmt)
    channel = f"(ARRAY{list(CHANNELS)})[1 + (g.n / 5) %% {len(CHANNELS)}]"
    bonus = "(CASE WHEN (g.n / 5) %% 4 = 0 THEN 100 ELSE 0 END)"
    clearing = " ".join(f"WHEN '{ch}' THEN '{ledger.clearing_account_id('EUR', ch)}'::uuid" for ch in CHANNELS)
    expense = ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR")
    with psycopg.connect(pg_dsn(database), autocommit=True) as conn:
        # The bench lines are French (EUR): each top-up buys its operator's cheapest offer.
        conn.execute("CREATE TABLE bench_offer AS SELECT DISTINCT ON (operator_id) operator_id, id, price_minor "
                     "FROM offers ORDER BY operator_id, price_minor, id")
    topups = f"FROM {_SERIES} JOIN lines l ON l.id = {line} JOIN bench_offer o ON o.operator_id = l.operator_id " \
             "WHERE g.n %% 5 = 0"
    loads = {
        "journal_entries": f"""
            INSERT INTO journal_entries (id, kind, reference, created_at)
            SELECT md5('e' || g.n)::uuid, 'topup', 'topup:' || md5('t' || g.n)::uuid, {topup_at}
            FROM {_SERIES} WHERE g.n %% 5 = 0""",
        "topups": f"""
            INSERT INTO topups (id, principal, idempotency_key, request_hash, line_id, msisdn, offer_id, channel,
                                status, price_minor, bonus_minor, currency, validity_before, validity_ends_at,
                                journal_entry_id, created_at, quote_id)
            SELECT md5('t' || g.n)::uuid, 'bench', 'k' || g.n, md5('r' || g.n), l.id, l.msisdn, o.id, {channel},
                   'completed', o.price_minor, {bonus}, 'EUR', l.validity_ends_at, l.validity_ends_at,
                   md5('e' || g.n)::uuid, {topup_at}, NULL
            {topups}""",
        "postings": f"""
            INSERT INTO postings (id, entry_id, account_id, amount_minor, currency)
            SELECT md5('p' || g.n || ':' || leg.no)::uuid, md5('e' || g.n)::uuid, leg.account_id, leg.amount, 'EUR'
            FROM {_SERIES} JOIN lines l ON l.id = {line} JOIN bench_offer o ON o.operator_id = l.operator_id
            CROSS JOIN LATERAL (VALUES
                (1, l.credit_account_id, o.price_minor),
                (2, CASE {channel} {clearing} END, -o.price_minor),
                (3, l.bonus_account_id, {bonus}),
                (4, '{expense}'::uuid, -{bonus})) leg(no, account_id, amount)
            WHERE g.n %% 5 = 0 AND (leg.no < 3 OR {bonus} > 0)""",
        "payment_attempts": f"""
            INSERT INTO payment_attempts (id, checkout_key, line_id, msisdn, offer_id, amount_minor, currency, method,
                                          provider, provider_ref, next_action, status, failure_reason, language,
                                          topup_id, receipt_id, created_at, updated_at, quote_id, channel)
            SELECT md5('a' || g.n)::uuid, 'bench:' || g.n, l.id, l.msisdn, o.id, o.price_minor, 'EUR',
                   (ARRAY{list(METHODS)})[1 + g.n %% {len(METHODS)}],
                   CASE WHEN g.n %% {len(METHODS)} = 1 THEN 'paypal' ELSE 'stripe' END, NULL, NULL,
                   CASE WHEN g.n %% 5 = 0 THEN 'succeeded' WHEN g.n %% 100000 = 7 THEN 'review' ELSE 'failed' END,
                   NULL, 'fr', CASE WHEN g.n %% 5 = 0 THEN md5('t' || g.n)::uuid END, NULL,
                   {_AT.format(prime=7919, **fmt)} - interval '1 minute',
                   {_AT.format(prime=7919, **fmt)}, NULL, NULL
            FROM {_SERIES} JOIN lines l ON l.id = {line} JOIN bench_offer o ON o.operator_id = l.operator_id
            WHERE (g.n %% 5 = 0 AND {channel} IN ('portal', 'auto_renew')) OR g.n %% 50 = 7""",
        "line_events": f"""
            INSERT INTO line_events (id, line_id, from_state, to_state, reason, at)
            SELECT md5('v' || g.n)::uuid, {line}, CASE WHEN g.n %% 40 = 1 THEN 'suspended' ELSE 'quarantine' END,
                   CASE WHEN g.n %% 40 = 1 THEN 'deactivated' ELSE 'available' END, 'sweep',
                   {_AT.format(prime=104723, **fmt)}
            FROM {_SERIES} WHERE g.n %% 40 IN (1, 2)""",
        "outbox": f"""
            INSERT INTO outbox (id, dedup_key, topic, channel, recipient, language, line_id, payload, status, attempts,
                                next_attempt_at, locked_until, last_error, created_at, sent_at, external_id,
                                receipt_status, receipt_at)
            SELECT md5('o' || g.n)::uuid, 'reminder:' || g.n, 'reminder', 'sms', '+336' || (10000000 + g.n),
                   (ARRAY['fr', 'en', 'zh_CN'])[1 + g.n %% 3], {line},
                   jsonb_build_object('days_before', (ARRAY[30, 7, 3, 1, 0])[1 + (g.n / 4) %% 5]), 'sent', 1,
                   {_AT.format(prime=104729, **fmt)}, NULL, NULL, {_AT.format(prime=104729, **fmt)},
                   {_AT.format(prime=104729, **fmt)}, NULL, NULL, NULL
            FROM {_SERIES} WHERE g.n %% 4 = 3""",
    }
    with progress() as bar:
        for table, insert in loads.items():
            task = bar.add_task(f"loading {table}", total=nlines)
            _load_pg_table(database, table, insert, nlines, lambda n, task=task: bar.advance(task, n))
    with psycopg.connect(pg_dsn(database), autocommit=True) as conn:
        conn.execute("DROP TABLE bench_offer")
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in loads}
    note(f"activity added: {counts}")


# --- the measurement -------------------------------------------------------------------------------------------

def measure(database: str, label: str) -> None:
    db = Database(pg_url(database))
    with db.transaction(write=False) as session:
        operators = report_service.operators(session)
        # The French operator that loses numbers soonest after validity ends: its lines fill every at-risk bucket.
        one = min((op for op in operators if op.country == "FR"),
                  key=lambda op: (op.grace_days + op.suspended_days, op.id)).id
    for scope, operator_id in (("all", None), ("one", one)):
        period = report_service.period(operators, operator_id=operator_id, first_day=None, last_day=None, days=30,
                                       reader_zone="UTC", today=NOW)
        params = _params(period, NOW)
        with psycopg.connect(pg_dsn(database)) as conn:
            for chart, (service_query, raw_sql, column) in _charts(period, NOW).items():
                service_ms, rows = _p50(lambda query=service_query: _in_session(db, query))
                raw_ms, raw_rows = _p50(lambda sql=raw_sql, args=params: conn.execute(sql, args).fetchall())
                total = sum(row[column] for row in rows)
                if total != sum(row[column] for row in raw_rows):
                    raise AssertionError(f"{chart} ({scope}): the service and the raw SQL count differently")
                report(f"dashboard_{label}_pg_{scope}_{chart}_ms", service_ms, "ms")
                report(f"dashboard_{label}_pg_{scope}_{chart}_raw_ms", raw_ms, "ms")
                note(f"{chart} ({scope}): {len(rows)} rows, total {total}, "
                     f"{service_ms / raw_ms:.2f}× the raw query")
    db.dispose()


def _params(period: report_service.Period, now: datetime) -> dict:
    return {"tz": period.timezone, "start": period.starts_at, "end": period.ends_at, "op": period.operator_id,
            "now": now, "b8": now + timedelta(days=8), "b31": now + timedelta(days=31),
            "b91": now + timedelta(days=91), "window": timedelta(days=report_service.CONVERSION_DAYS)}


def _charts(period: report_service.Period, now: datetime) -> dict[str, tuple[Callable, str, int]]:
    """Each chart: (the service's query, the hand-written aggregate, the column both count in)."""
    op = "AND l.operator_id = %(op)s" if period.operator_id else ""
    join = "JOIN lines l ON l.id = {}.line_id" if period.operator_id else ""
    return {
        "renewals": (lambda s: report_service.renewals(s, period), f"""
            SELECT (t.created_at AT TIME ZONE %(tz)s)::date, t.channel, coalesce(a.method, t.channel), count(*)
            FROM topups t LEFT JOIN payment_attempts a ON a.topup_id = t.id {join.format('t')}
            WHERE t.created_at >= %(start)s AND t.created_at < %(end)s {op} GROUP BY 1, 2, 3""", 3),
        "revenue": (lambda s: report_service.revenue(s, period, ["EUR"]), f"""
            SELECT (t.created_at AT TIME ZONE %(tz)s)::date, t.currency, count(*), sum(t.price_minor),
                   sum(coalesce((SELECT -sum(p.amount_minor) FROM postings p WHERE p.entry_id = t.journal_entry_id
                                 AND p.account_id = '{ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR")}'), 0))
            FROM topups t {join.format('t')}
            WHERE t.created_at >= %(start)s AND t.created_at < %(end)s {op} GROUP BY 1, 2""", 2),
        "at_risk": (lambda s: report_service.at_risk(s, operator_id=period.operator_id, now=now), f"""
            SELECT CASE WHEN l.number_loss_at < %(b8)s THEN '0-7' WHEN l.number_loss_at < %(b31)s THEN '8-30'
                        ELSE '31-90' END, count(*)
            FROM lines l WHERE l.state IN ('active', 'grace', 'suspended') AND l.number_loss_at >= %(now)s
            AND l.number_loss_at < %(b91)s {op} GROUP BY 1""", 1),
        "losses": (lambda s: report_service.losses(s, period), f"""
            SELECT (e.at AT TIME ZONE %(tz)s)::date, e.to_state, count(*) FROM line_events e {join.format('e')}
            WHERE e.to_state IN ('deactivated', 'available') AND e.at >= %(start)s AND e.at < %(end)s {op}
            GROUP BY 1, 2""", 2),
        "conversion": (lambda s: report_service.conversion(s, period), f"""
            SELECT (o.payload ->> 'days_before')::int, o.language, count(*),
                   count(*) FILTER (WHERE EXISTS (SELECT FROM topups t WHERE t.line_id = o.line_id
                                    AND t.created_at > o.created_at AND t.created_at <= o.created_at + %(window)s))
            FROM outbox o {join.format('o')} WHERE o.topic = 'reminder' AND o.channel = 'sms'
            AND o.created_at >= %(start)s AND o.created_at < %(end)s {op} GROUP BY 1, 2""", 2),
        "payments": (lambda s: report_service.payments(s, period), f"""
            SELECT a.provider, count(*), count(*) FILTER (WHERE a.status = 'succeeded')
            FROM payment_attempts a {join.format('a')}
            WHERE a.created_at >= %(start)s AND a.created_at < %(end)s {op} GROUP BY 1""", 1),
        "review_age": (lambda s: report_service.review_age(s, operator_id=period.operator_id, now=now), f"""
            SELECT CASE WHEN a.updated_at > %(now)s - interval '1 day' THEN 'under_1'
                        WHEN a.updated_at > %(now)s - interval '3 days' THEN '1-3'
                        WHEN a.updated_at > %(now)s - interval '7 days' THEN '3-7' ELSE 'over_7' END,
                   count(*), min(a.updated_at)
            FROM payment_attempts a {join.format('a')} WHERE a.status = 'review' {op} GROUP BY 1""", 1),
    }


def _in_session(db: Database, query: Callable) -> list:
    with db.transaction(write=False) as session:
        return query(session)


def _p50(run: Callable[[], list]) -> tuple[float, list]:
    rows = run()  # warm: the first run reads the pages into the cache
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        rows = run()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2), rows
