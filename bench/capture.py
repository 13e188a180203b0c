"""The SQL of one top-up, captured from the service and replayed without it: as a pgbench script on PostgreSQL,
as a plain sqlite3 loop on SQLite. The statements are the service's own text; each captured value is replaced
by what it stands for (the locked line's columns, fresh ids, now, the validity arithmetic) or kept as is."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb
from sqlalchemy import event

from simkeep.core import clock
from simkeep.core.ids import new_id
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.topup import service as topups

ROW_COLUMNS = ("id", "credit_account_id", "bonus_account_id", "validity_ends_at", "state_changed_at")
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores an instant on SQLite
_HEX_UUID = re.compile(r"[0-9a-f]{32}")
_SQLITE_INSTANT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def msisdn(n: int) -> str:
    """The number of bench line n (every bench builds its lines this way)."""
    return f"+336{10_000_000 + n}"


@dataclass(frozen=True)
class Statement:
    sql: str
    params: object  # as the driver got them: a dict (psycopg) or tuple (sqlite3), or a list for executemany
    many: bool


@dataclass(frozen=True)
class Capture:
    statements: list[Statement]
    roles: dict[object, str]  # captured value -> what it stands for
    now: datetime
    validity_before: datetime

    def describe(self) -> str:
        return "\n".join(f"  {' '.join(s.sql.split())}{'  [executemany]' if s.many else ''}"
                         for s in self.statements)


def capture_topup(db: Database, *, number: str, offer_id: str) -> Capture:
    """Run one top-up through the service and record every statement it sends. A first top-up goes uncaptured,
    so per-process caches (e.g. webhook endpoints) are warm and the capture is what every request sends."""

    def top_up(key: str, now: datetime):
        with db.transaction() as session:
            return topups.top_up(session, principal="admin-token", idempotency_key=key, msisdn=number,
                                 offer_id=offer_id, channel="api", now=now).topup

    top_up(f"bench-warm-up-{uuid.uuid4().hex}", clock.now())
    now, key = clock.now(), f"bench-capture-{uuid.uuid4().hex}"
    with db.transaction(write=False) as session:
        line = lines.find_line(session, number)
    statements: list[Statement] = []

    def record(_conn, _cursor, sql, params, _context, many) -> None:
        # A batched "insertmanyvalues" INSERT arrives flagged as executemany but with one flat row of parameters.
        statements.append(Statement(sql, params, many and isinstance(params, list)))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        topup = top_up(key, now)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    # Values of the locked line are read back from it ("row:<column>"); the rest is made per transaction.
    roles = {getattr(line, c): f"row:{c}" for c in ROW_COLUMNS}
    roles.update({line.msisdn: "msisdn", topup.id: "topup_id", topup.journal_entry_id: "entry_id",
                  key: "key"})
    return Capture(statements, roles, now, line.validity_ends_at)


# A captured value becomes a token: ("role", name), ("now",), ("shift", seconds after the old validity end),
# ("fresh",) for a new id, ("concat", tokens) for text embedding roles, or ("lit", raw value).
def tokenize(cap: Capture, raw: object) -> tuple:
    value = _canonical(raw)
    if isinstance(value, (str, uuid.UUID, datetime)) and value in cap.roles:
        return ("role", cap.roles[value])
    if isinstance(value, datetime):
        return ("now",) if value == cap.now else ("shift", (value - cap.validity_before).total_seconds())
    if isinstance(value, uuid.UUID) and value.version == 7:  # new_id(); system accounts are uuid5
        return ("fresh",)
    if isinstance(value, str):
        embedded = "|".join(re.escape(str(k)) for k in sorted(cap.roles, key=lambda k: -len(str(k))))
        pieces = re.split(f"({embedded})", value)
        if len(pieces) > 1:
            texts = {str(k): role for k, role in cap.roles.items()}
            return ("concat", [("role", texts[p]) if i % 2 else ("lit", p) for i, p in enumerate(pieces) if p])
        if isinstance(raw, Jsonb):
            return ("lit", value)
    return ("lit", raw)


def _canonical(raw: object) -> object:
    if isinstance(raw, Jsonb):
        return json.dumps(raw.obj)
    if isinstance(raw, str) and _HEX_UUID.fullmatch(raw):
        return uuid.UUID(raw)
    if isinstance(raw, str) and _SQLITE_INSTANT.fullmatch(raw):
        return datetime.strptime(raw, SQLITE_TIME).replace(tzinfo=UTC)
    return raw


# --- PostgreSQL: a pgbench script ------------------------------------------------------------------------------

def _pg_uuid(var: str) -> str:
    """A random uuid from two pgbench integers (pgbench cannot make strings; the id is used in several rows)."""
    return f"(lpad(to_hex(:{var}_hi::bigint), 16, '0') || lpad(to_hex(:{var}_lo::bigint), 16, '0'))::uuid"


_PG_ROLES = {
    **{f"row:{c}": f":row_{c}" for c in ROW_COLUMNS},
    "msisdn": "('+336' || (10000000 + :n))", "topup_id": _pg_uuid("t"), "entry_id": _pg_uuid("e"),
    "key": f"({_pg_uuid('t')})::text",
}


def _pg_literal(raw: object) -> str:
    if raw is None:
        return "NULL"
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, (int, float)):
        return str(raw)
    # E'' with ':' escaped: pgbench would take ':00' inside a literal for a variable.
    text = str(raw).replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\x3a")
    return f"E'{text}'"


def _pg_expr(token: tuple, as_text: bool = False) -> str:
    kind = token[0]
    if kind == "role":
        return f"({_PG_ROLES[token[1]]})::text" if as_text else _PG_ROLES[token[1]]
    if kind == "now":
        return "now()"
    if kind == "shift":
        return f"(:row_validity_ends_at::timestamptz + interval '{token[1]:.6f} seconds')"
    if kind == "fresh":
        return "gen_random_uuid()"
    if kind == "concat":
        return "(" + " || ".join(_pg_expr(t, as_text=True) for t in token[1]) + ")"
    return _pg_literal(token[1])


def pgbench_script(cap: Capture, nlines: int) -> str:
    """BEGIN, the captured statements with their values as expressions, COMMIT. The locked line's columns come
    from the first SELECT (\\gset row_); an executemany runs as a pipeline, as psycopg sends it."""
    out = [f"\\set n random(0, {nlines - 1})"]
    out += [f"\\set {v} random(1, 9223372036854775807)" for v in ("t_hi", "t_lo", "e_hi", "e_lo")]
    out.append("BEGIN;")
    locked_row_read = False
    for st in cap.statements:
        sql = " ".join(st.sql.split())
        rows = st.params if st.many else [st.params]
        commands = [_PLACEHOLDER.sub(lambda m, row=row: _pg_expr(tokenize(cap, row[m[1]])), sql) for row in rows]
        if st.many:
            out += ["\\startpipeline", *(c + ";" for c in commands), "\\endpipeline"]
        elif sql.startswith("SELECT") and not locked_row_read:
            out.append(commands[0] + " \\gset row_")
            locked_row_read = True
        else:
            out.append(commands[0] + ";")
    out.append("COMMIT;")
    return "\n".join(out) + "\n"


# --- SQLite: the same statements from one Python process -------------------------------------------------------

@dataclass
class _Tx:
    n: int
    topup_id: uuid.UUID = field(default_factory=new_id)
    entry_id: uuid.UUID = field(default_factory=new_id)
    now: str = field(default_factory=lambda: datetime.now(UTC).strftime(SQLITE_TIME))
    row: dict | None = None  # the locked line, once read
    validity: datetime | None = None  # its validity end


_PY_ROLES = {"msisdn": lambda tx: msisdn(tx.n), "topup_id": lambda tx: tx.topup_id,
             "entry_id": lambda tx: tx.entry_id, "key": lambda tx: str(tx.topup_id)}


def _sqlite_getter(token: tuple, as_text: bool = False):
    """A function of the transaction giving the token's value as SQLite stores it (or as text in a concat);
    built once so the timed loop does little more than call sqlite3."""
    kind, arg = token[0], token[-1]
    if kind == "lit":
        return lambda tx: arg
    if kind == "role" and arg.startswith("row:"):
        column = arg.removeprefix("row:")
        return (lambda tx: str(_canonical(tx.row[column]))) if as_text else (lambda tx: tx.row[column])
    if kind == "role":
        role = _PY_ROLES[arg]
        return (lambda tx: str(role(tx))) if as_text else (lambda tx: _sqlite_stored(role(tx)))
    if kind == "now":
        return lambda tx: tx.now
    if kind == "shift":
        delta = timedelta(seconds=arg)
        return lambda tx: (tx.validity + delta).strftime(SQLITE_TIME)
    if kind == "fresh":
        return lambda tx: new_id().hex
    parts = [_sqlite_getter(t, as_text=True) for t in arg]  # concat
    return lambda tx: "".join(part(tx) for part in parts)


def _sqlite_stored(value: object) -> object:
    return value.hex if isinstance(value, uuid.UUID) else value


def sqlite_raw_rate(cap: Capture, path: str, *, nlines: int, seconds: float, warmup: float) -> float:
    """Top-ups per second replaying the captured statements with sqlite3 (same pragmas as the service)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    plan = [(st.sql, st.many, [[_sqlite_getter(tokenize(cap, v)) for v in row]
                                for row in (st.params if st.many else [st.params])])
            for st in cap.statements]

    def one_topup() -> None:
        tx = _Tx(random.randrange(nlines))
        for sql, many, rows in plan:
            params = [tuple(get(tx) for get in row) for row in rows]
            cursor = conn.executemany(sql, params) if many else conn.execute(sql, params[0])
            if cursor.description:  # read every result, as the service does (COMMIT refuses pending ones)
                result = cursor.fetchall()
                if tx.row is None:
                    tx.row = dict(zip([d[0] for d in cursor.description], result[0], strict=True))
                    tx.validity = datetime.fromisoformat(tx.row["validity_ends_at"])
        conn.execute("COMMIT")

    try:
        _run_for(one_topup, warmup)
        return _run_for(one_topup, seconds)
    finally:
        conn.close()


def _run_for(work, seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        work()
        count += 1
    return count / elapsed
