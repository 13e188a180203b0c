"""Big databases for the sweep benchmark, built with SQL but row for row what the service would have written.

Every line is active, never reminded, with a validity end at local midnight. The lifecycle columns come from
simkeep.line.rules itself, evaluated once per (operator, validity day) "slot" and joined in SQL: line n
takes slot n mod len(slots). Each operator's 365 validity days are shifted so that its lines' first sweep
events (a state change or the first reminder) fall one per day on DAY0 .. DAY0+364: about 1/365 of the lines
are due on any one day, and DAY0 is the day the benchmark sweeps.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from sqlalchemy import select

from bench.capture import SQLITE_TIME, msisdn
from bench.common import note, pg_dsn, pg_url, progress
from simkeep.catalog import service as catalog
from simkeep.catalog.models import Operator
from simkeep.core.clock import zone
from simkeep.db import Database
from simkeep.ledger.models import Account
from simkeep.line import rules
from simkeep.line.models import ACTIVE, Line
from simkeep.migrate import upgrade

DAY0 = date(2027, 1, 4)
CREATED0 = datetime(2026, 1, 1, tzinfo=UTC)  # line n was created n milliseconds after this
SWEEP_AT = time(20, 0)  # local: after the day's midnight transitions and 10:00 reminders, hours from either
TIMEZONE = "Europe/Paris"  # every French operator's
CHUNK = 250_000


@dataclass(frozen=True)
class Slot:
    operator_id: str
    currency: str
    validity_ends_at: datetime
    number_loss_at: datetime
    available_at: datetime
    next_sweep_at: datetime


def sweep_instant() -> datetime:
    return _local(DAY0, SWEEP_AT, TIMEZONE)


def _local(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=zone(tz)).astimezone(UTC)


def bench_operators(db: Database) -> list[Operator]:
    """The catalog's French operators: bench numbers are French mobiles, as the service would require."""
    with db.transaction(write=False) as session:
        operators = list(session.scalars(select(Operator).where(Operator.country == "FR").order_by(Operator.id)))
    assert {op.timezone for op in operators} == {TIMEZONE}
    return operators


def slots(operators: list[Operator]) -> list[Slot]:
    out = []
    for op in operators:
        first_end = _local(DAY0, time(0), op.timezone)
        first_event = rules.next_sweep_at(op, rules.stages(op, first_end), ACTIVE, None)
        lead = max(0, (first_end.astimezone(zone(op.timezone)).date()
                       - first_event.astimezone(zone(op.timezone)).date()).days)
        for k in range(365):
            end = _local(DAY0 + timedelta(days=k + lead), time(0), op.timezone)
            stages = rules.stages(op, end)
            out.append(Slot(op.id, op.currency, end, stages.number_loss_at, stages.available_at,
                            rules.next_sweep_at(op, stages, ACTIVE, None)))
    return out


def bench_id(n: int, kind: int) -> uuid.UUID:
    """Time-ordered (v7 layout, like new_id) and derivable from n: kind 0 the line, 1 credit, 2 bonus account."""
    ms = int(CREATED0.timestamp() * 1000) + n
    return uuid.UUID(f"{ms:012x}7{kind:03x}8{n:015x}")


def prepare(url: str) -> tuple[Database, list[Operator]]:
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=CREATED0)
    return db, bench_operators(db)


# --- PostgreSQL ------------------------------------------------------------------------------------------------

_PG_ID = ("(lpad(to_hex({ms0} + g.n), 12, '0') || '7' || lpad(to_hex({kind}), 3, '0') || '8' "
          "|| lpad(to_hex(g.n), 15, '0'))::uuid")
_PG_CREATED = "(timestamptz '{created0}' + g.n * interval '1 millisecond')"


def build_pg(database: str, nlines: int) -> None:
    """Load in two lanes at once (accounts, lines), each with its indexes dropped and then rebuilt exactly
    as the migration made them; foreign keys are restored last."""
    db, operators = prepare(pg_url(database))
    plan = slots(operators)
    db.dispose()
    with psycopg.connect(pg_dsn(database), autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_slot (k int PRIMARY KEY, operator_id text, currency text, "
                     "validity_ends_at timestamptz, number_loss_at timestamptz, available_at timestamptz, "
                     "next_sweep_at timestamptz)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO bench_slot VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            [(k, s.operator_id, s.currency, s.validity_ends_at, s.number_loss_at, s.available_at,
                              s.next_sweep_at) for k, s in enumerate(plan)])
        foreign_keys = _drop_pg_foreign_keys(conn)
    fmt = {"ms0": int(CREATED0.timestamp() * 1000), "created0": CREATED0.isoformat(), "slots": len(plan)}
    lanes = {
        "ledger_accounts": f"""
            INSERT INTO ledger_accounts (id, code, kind, currency, balance_minor, created_at)
            SELECT {_PG_ID.format(kind="a.no", **fmt)}, a.kind || ':' || {_PG_ID.format(kind=0, **fmt)}, a.kind,
                   s.currency, 0, {_PG_CREATED.format(**fmt)}
            FROM generate_series(%(start)s, %(stop)s - 1) g(n) JOIN bench_slot s ON s.k = mod(g.n, {len(plan)})
            CROSS JOIN (VALUES (1, 'subscriber_credit'), (2, 'subscriber_bonus')) a(no, kind)""",
        "lines": f"""
            INSERT INTO lines (id, msisdn, operator_id, state, language, email, credit_account_id, bonus_account_id,
                               validity_ends_at, number_loss_at, available_at, next_sweep_at, reminded_offset,
                               created_at, state_changed_at)
            SELECT {_PG_ID.format(kind=0, **fmt)}, '+336' || (10000000 + g.n), s.operator_id, 'active', 'fr', NULL,
                   {_PG_ID.format(kind=1, **fmt)}, {_PG_ID.format(kind=2, **fmt)}, s.validity_ends_at,
                   s.number_loss_at, s.available_at, s.next_sweep_at, NULL, {_PG_CREATED.format(**fmt)},
                   {_PG_CREATED.format(**fmt)}
            FROM generate_series(%(start)s, %(stop)s - 1) g(n) JOIN bench_slot s ON s.k = mod(g.n, {len(plan)})""",
    }
    with progress() as bar:
        tasks = {table: bar.add_task(f"loading {table}", total=nlines) for table in lanes}
        errors: list[BaseException] = []

        def lane(table: str) -> None:
            try:
                _load_pg_table(database, table, lanes[table], nlines, lambda n: bar.advance(tasks[table], n))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=lane, args=(table,)) for table in lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        task = bar.add_task("foreign keys", total=len(foreign_keys))
        with psycopg.connect(pg_dsn(database), autocommit=True) as conn:
            for ddl in foreign_keys:
                conn.execute(ddl)
                bar.advance(task)
            conn.execute("DROP TABLE bench_slot")
    check_sample(pg_url(database), nlines, plan)


def _drop_pg_foreign_keys(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("""
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE contype = 'f' AND conrelid IN ('lines'::regclass, 'ledger_accounts'::regclass)""").fetchall()
    for table, name, _ in rows:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in rows]


def _load_pg_table(database: str, table: str, insert: str, nlines: int, advance) -> None:
    with psycopg.connect(pg_dsn(database), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        # Secondary indexes and unique constraints (not the primary key): dropped, then rebuilt from their DDL.
        uniques = conn.execute("""
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE contype = 'u' AND conrelid = %s::regclass""", [table]).fetchall()
        indexes = conn.execute("""
            SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s
            AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))""",
                               [table]).fetchall()
        for name, _ in uniques:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for start in range(0, nlines, CHUNK):
            stop = min(start + CHUNK, nlines)
            conn.execute(insert, {"start": start, "stop": stop})
            advance(stop - start)
        for _, ddl in indexes:
            conn.execute(ddl)
        for name, definition in uniques:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        conn.execute(f"VACUUM (ANALYZE) {table}")  # hint bits and visibility map set once, in the template


# --- SQLite ----------------------------------------------------------------------------------------------------

_SQLITE_ID = "printf('%012x7%03x8%015x', {ms0} + g.n, {kind}, g.n)"
_SQLITE_CREATED = ("(strftime('%Y-%m-%d %H:%M:%S', {created0} + g.n / 1000, 'unixepoch') "
                   "|| printf('.%06d', (g.n % 1000) * 1000))")
_SQLITE_SERIES = "WITH RECURSIVE g(n) AS (SELECT :start UNION ALL SELECT n + 1 FROM g WHERE n + 1 < :stop)"


def build_sqlite(path: str, nlines: int) -> None:
    db, operators = prepare(f"sqlite:///{path}")
    plan = slots(operators)
    db.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;")
    conn.execute("CREATE TEMP TABLE bench_slot (k INTEGER PRIMARY KEY, operator_id, currency, validity_ends_at, "
                 "number_loss_at, available_at, next_sweep_at)")
    conn.executemany("INSERT INTO bench_slot VALUES (?, ?, ?, ?, ?, ?, ?)", [
        (k, s.operator_id, s.currency, *(_sqlite_time(t) for t in (s.validity_ends_at, s.number_loss_at,
                                                                      s.available_at, s.next_sweep_at)))
        for k, s in enumerate(plan)])
    fmt = {"ms0": int(CREATED0.timestamp() * 1000), "created0": int(CREATED0.timestamp())}
    line_id = _SQLITE_ID.format(kind=0, **fmt)
    line_id_text = ("printf('%08x-%04x-7000-8%03x-%012x', ({ms0} + g.n) >> 16, ({ms0} + g.n) & 65535, "
                    "g.n >> 48, g.n & 281474976710655)").format(**fmt)
    accounts = f"""{_SQLITE_SERIES}
        INSERT INTO ledger_accounts (id, code, kind, currency, balance_minor, created_at)
        SELECT {_SQLITE_ID.format(kind="a.no", **fmt)}, a.kind || ':' || {line_id_text},
               a.kind, s.currency, 0, {_SQLITE_CREATED.format(**fmt)}
        FROM g JOIN bench_slot s ON s.k = g.n % {len(plan)}
        CROSS JOIN (SELECT 1 AS no, 'subscriber_credit' AS kind UNION ALL SELECT 2, 'subscriber_bonus') a"""
    lines = f"""{_SQLITE_SERIES}
        INSERT INTO lines (id, msisdn, operator_id, state, language, email, credit_account_id, bonus_account_id,
                           validity_ends_at, number_loss_at, available_at, next_sweep_at, reminded_offset,
                           created_at, state_changed_at)
        SELECT {line_id}, '+336' || (10000000 + g.n), s.operator_id, 'active', 'fr', NULL,
               {_SQLITE_ID.format(kind=1, **fmt)}, {_SQLITE_ID.format(kind=2, **fmt)}, s.validity_ends_at,
               s.number_loss_at, s.available_at, s.next_sweep_at, NULL, {_SQLITE_CREATED.format(**fmt)},
               {_SQLITE_CREATED.format(**fmt)}
        FROM g JOIN bench_slot s ON s.k = g.n % {len(plan)}"""
    # Secondary indexes (the unique constraint on account codes is an autoindex and stays): rebuilt after.
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           "AND tbl_name IN ('lines', 'ledger_accounts')").fetchall()
    with progress() as bar:
        task = bar.add_task("loading lines and accounts", total=nlines)
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for start in range(0, nlines, CHUNK):
            params = {"start": start, "stop": min(start + CHUNK, nlines)}
            conn.execute(accounts, params)
            conn.execute(lines, params)
            bar.advance(task, params["stop"] - start)
        for _, ddl in indexes:
            conn.execute(ddl)
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    check_sample(f"sqlite:///{path}", nlines, plan)


def _sqlite_time(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime(SQLITE_TIME)


# --- Both ------------------------------------------------------------------------------------------------------

def check_sample(url: str, nlines: int, plan: list[Slot], size: int = 300) -> None:
    """Sampled lines must equal what the service computes: rules.stages and rules.next_sweep_at from the
    line's own validity end, accounts of the service's shape, and about 1/365 of the lines due on DAY0."""
    import random

    from simkeep.lifecycle.tasks import count_due

    db = Database(url)
    picks = random.Random(1).sample(range(nlines), min(size, nlines))
    with db.transaction(write=False) as session:
        operators = {op.id: op for op in session.scalars(select(Operator))}
        found = {line.id: line for line in session.scalars(select(Line).where(Line.id.in_(
            [bench_id(n, 0) for n in picks])))}
        accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(
            [bench_id(n, k) for n in picks for k in (1, 2)])))}
    for n in picks:
        line = found[bench_id(n, 0)]
        op = operators[line.operator_id]
        stages = rules.stages(op, line.validity_ends_at)
        local_end = line.validity_ends_at.astimezone(zone(op.timezone))
        credit, bonus = accounts[line.credit_account_id], accounts[line.bonus_account_id]
        problems = [
            line.msisdn != msisdn(n) and "msisdn",
            local_end.time() != time(0) and "validity end not at local midnight",
            line.number_loss_at != stages.number_loss_at and "number_loss_at",
            line.available_at != stages.available_at and "available_at",
            line.next_sweep_at != rules.next_sweep_at(op, stages, ACTIVE, None) and "next_sweep_at",
            (line.state, line.reminded_offset) != (ACTIVE, None) and "state",
            credit.code != f"subscriber_credit:{line.id}" and "credit account",
            bonus.code != f"subscriber_bonus:{line.id}" and "bonus account",
            (credit.balance_minor, credit.currency) != (0, op.currency) and "credit balance",
        ]
        if any(problems):
            raise AssertionError(f"bench line {n} differs from the service's rows: {[p for p in problems if p]}")
    due = count_due(db, now=sweep_instant())
    db.dispose()
    note(f"checked {len(picks)} sampled lines against simkeep.line.rules; "
                  f"{due} due on {DAY0} ({due / nlines * 365:.2f} / 365 of the lines)")
    if not 0.9 < due / nlines * 365 < 1.1:
        raise AssertionError(f"{due} lines due on {DAY0}, expected about {nlines // 365}")
