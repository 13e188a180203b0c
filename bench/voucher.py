"""Recharge card redemptions over HTTP (wrk, 64 connections, each request a card of its own) against the raw
ceiling of the same SQL: the statements one redemption sends, captured from the service and replayed by pgbench.

The kept template holds the bench lines, a reseller and one printed batch sold to it; the PINs (the one hand-out)
and the pepper they were hashed with live in bench/out/ beside it, so every run redeems fresh cards on a fresh
copy of the template."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, select

from bench import capture
from bench.capture import Capture, Statement, msisdn
from bench.common import (
    ADMIN_TOKEN,
    OUT,
    Sizes,
    build_stamp,
    console,
    database_stamp,
    note,
    pg_url,
    recreate_database,
    report,
    server,
    stamp_database,
)
from bench.topup import CONNECTIONS, WrkRun, create_lines
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.reseller import service as resellers
from simkeep.topup.models import TopUp
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import Voucher

OFFER = "fr-orange-mobicarte-10"  # 14 days a card: a line gets ~10 at most, far from the 730-day cap
PG_TEMPLATE, PG_DB = "simkeep_bench_voucher_tpl", "simkeep_bench_voucher"
LUA = Path(__file__).with_name("voucher.lua")
PINS = OUT / "voucher_pins.txt"
KEPT = OUT / "voucher_bench.json"  # the pepper and seal key the template's PINs were made with, and its stamp
CARDS = {"full": 100_000, "quick": 30_000}  # enough for a warm-up and a run at a few thousand per second
WRK_THREADS = 2
RESERVED = 2  # the last cards: one to warm the capture up, one captured; wrk never takes them


def bench_voucher_pg(sizes: Sizes) -> None:
    nlines, ncards = sizes.topup_lines, CARDS[sizes.label]
    keys = template(nlines, ncards)
    usable = ncards - RESERVED
    warmup_cards = min(usable // 4, max(5_000, sizes.warmup_seconds * 4_000))
    env = {"SIMKEEP_DATABASE_URL": pg_url(PG_DB), "SIMKEEP_VOUCHER_PEPPER": keys["pepper"],
           "SIMKEEP_VOUCHER_SEAL_KEY": keys["seal"],
           # The bench is one API key redeeming thousands a second: its budget is not what is measured here.
           "SIMKEEP_VOUCHER_REDEMPTIONS_PER_KEY": "100000000 per minute"}
    runs = {}
    for workers in (1, 2, 3):  # each run on a fresh copy, so all start from the same rows
        recreate_database(PG_DB, PG_TEMPLATE)
        with server(workers=workers, env=env, log_name=f"voucher_pg_w{workers}") as base:
            warmup = wrk(base, seconds=sizes.warmup_seconds, nlines=nlines, cards=(0, warmup_cards))
            run = wrk(base, seconds=sizes.run_seconds, nlines=nlines, cards=(warmup_cards, usable))
        check_once(warmup, run, name=f"voucher_pg_w{workers}", cards=usable - warmup_cards)
        runs[workers] = run
        report(f"voucher_pg_http_w{workers}", round(run.rate), "req/s")
        report(f"voucher_pg_http_w{workers}_errors", run.errors, "count")
    best = max(runs.values(), key=lambda r: r.rate)
    report("voucher_pg_http", round(best.rate), "req/s")
    report("voucher_pg_http_p50", best.p50_ms, "ms")
    report("voucher_pg_http_p99", best.p99_ms, "ms")
    report("voucher_pg_http_errors", best.errors, "count")

    recreate_database(PG_DB, PG_TEMPLATE)
    db = Database(pg_url(PG_DB))
    cards = PINS.read_text().split()
    captured, serial_of = capture_redemption(db, number=msisdn(0), warm=cards[-2], pin=cards[-1], keys=pins.keys(
        Settings(voucher_pepper=keys["pepper"], voucher_seal_key=keys["seal"])))
    first_serial = db.read(lambda s: s.scalar(select(func.min(Voucher.serial))))
    db.dispose()
    note(f"SQL of one redemption (PostgreSQL, captured):\n{captured.describe()}")
    script = OUT / "voucher.pgbench"
    script.write_text(pgbench_script(captured, serial_of, nlines=nlines, first_serial=first_serial, cards=usable))
    pgbench(PG_DB, script, sizes.warmup_seconds, start=0)
    start = cards_taken(first_serial, usable)  # clients ran unevenly: start past the last card the warm-up took
    tx, tps = pgbench(PG_DB, script, sizes.run_seconds, start=start)
    if start + tx > usable:
        note(f"pgbench: {start + tx - usable} transactions found their card used (more than {usable} cards)")
    report("voucher_pg_pgbench", round(tps), "tx/s")
    report("voucher_pg_ratio", round(best.rate / tps, 2), "x")


def cards_taken(first_serial: int, usable: int) -> int:
    """One past the highest card redeemed so far, counted from the first, among the cards wrk and pgbench use."""
    db = Database(pg_url(PG_DB))
    last = db.read(lambda s: s.scalar(select(func.max(Voucher.serial)).where(
        Voucher.state == "redeemed", Voucher.serial < first_serial + usable)))
    db.dispose()
    return 0 if last is None else last - first_serial + 1


# -- the template: lines, a reseller, a sold batch ------------------------------------------------------------------

def template(nlines: int, ncards: int) -> dict[str, str]:
    """Build the template if its stamp or the PINs beside it do not match; returns the keys its PINs were made
    with."""
    stamp = build_stamp("voucher", nlines, month=clock.now().strftime("%Y-%m"), cards=str(ncards))
    kept = json.loads(KEPT.read_text()) if KEPT.exists() else {}
    if database_stamp(PG_TEMPLATE) == stamp and kept.get("stamp") == stamp and PINS.exists():
        return kept
    recreate_database(PG_TEMPLATE)
    url = pg_url(PG_TEMPLATE)
    create_lines(url, nlines)
    kept = {"stamp": stamp, "pepper": secrets.token_urlsafe(48), "seal": secrets.token_urlsafe(48)}
    keys = pins.keys(Settings(voucher_pepper=kept["pepper"], voucher_seal_key=kept["seal"]))
    db, now = Database(url), clock.now()
    cards: list[str] = []
    with db.transaction() as session:
        resellers.deposit(session, reseller=resellers.create(
            session, code="BENCH", name="Bench reseller", currency="EUR", discount_bp=500, actor="bench",
            reason="bench", now=now), amount=Money(10**12, "EUR"), reference="bench", actor="bench", reason="bench",
            now=now)
        batch = vouchers.create_batch(session, offer_id=OFFER, quantity=ncards, expires_at=now + timedelta(days=365),
                                      actor="bench", reason="bench", keys=keys, now=now,
                                      sink=lambda chunk: cards.extend(pin for _serial, pin in chunk))
    with db.transaction() as session:  # more than BULK_LIMIT cards: a second person approves the sale
        sale = vouchers.request_action(session, action=vouchers.SELL, serial_from=batch.serial_from,
                                       serial_to=batch.serial_to, actor="bench", reason="bench", now=now,
                                       reseller_code="BENCH")
        vouchers.approve(session, sale.id, actor="bench-checker", now=now)
    db.dispose()
    OUT.mkdir(parents=True, exist_ok=True)
    PINS.write_text("\n".join(cards) + "\n")
    KEPT.write_text(json.dumps(kept))
    stamp_database(PG_TEMPLATE, stamp)
    return kept


# -- HTTP ------------------------------------------------------------------------------------------------------------

def wrk(base: str, *, seconds: int, nlines: int, cards: tuple[int, int]) -> WrkRun:
    env = {**os.environ, "BENCH_LINES": str(nlines), "BENCH_TOKEN": ADMIN_TOKEN, "BENCH_RUN": uuid.uuid4().hex[:12],
           "BENCH_PINS": str(PINS), "BENCH_PIN_FROM": str(cards[0]), "BENCH_PIN_TO": str(cards[1]),
           "BENCH_THREADS": str(WRK_THREADS)}
    out = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(LUA), base], capture_output=True, text=True, env=env, timeout=seconds + 60,
                         check=True).stdout
    values = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", out[out.index("RESULT"):])}
    return WrkRun(values["requests"], values["duration_us"] / 1e6, values["non2xx"] + values["socket_errors"],
                  values["p50_us"] / 1000, values["p99_us"] / 1000)


def check_once(warmup: WrkRun, run: WrkRun, *, name: str, cards: int) -> None:
    """Every 2xx answer left one top-up and one redeemed card, and no card was redeemed twice."""
    db = Database(pg_url(PG_DB))
    with db.transaction(write=False) as session:
        stored = session.scalar(select(func.count()).select_from(TopUp))
        redeemed = session.scalar(select(func.count()).select_from(Voucher).where(Voucher.state == "redeemed"))
        linked = session.scalar(select(func.count(func.distinct(Voucher.topup_id))))
    db.dispose()
    answered = warmup.requests - warmup.errors + run.requests - run.errors
    if not (stored == redeemed == linked and 0 <= stored - answered <= 2 * CONNECTIONS):
        console.print(f"[red]{name}: {answered} answered 2xx, but {stored} top-ups, {redeemed} redeemed cards, "
                      f"{linked} cards linked to a top-up[/red]")
    if run.requests > cards:
        note(f"{name}: {run.requests - cards} requests beyond the {cards} cards (answered 422, counted as errors)")


# -- the raw ceiling: the service's own statements, replayed by pgbench ------------------------------------------

def capture_redemption(db: Database, *, number: str, warm: str, pin: str, keys: pins.Keys) -> tuple[Capture, int]:
    """Redeem one card through the service and record every statement it sends (after one uncaptured redemption,
    so per-process caches are warm). Returns the capture and the serial of the card."""

    def redeem(card: str, key: str, now: datetime):
        with db.transaction() as session:
            return vouchers.redeem(session, msisdn=number, pin=card, via="api", principal="admin-token",
                                   idempotency_key=key, client="admin-token", keys=keys, now=now)

    redeem(warm, f"bench-warm-up-{uuid.uuid4().hex}", clock.now()).outcome()
    now, key = clock.now(), f"bench-capture-{uuid.uuid4().hex}"
    with db.transaction(write=False) as session:
        line = lines.find_line(session, number)
    statements: list[Statement] = []

    def record(_conn, _cursor, sql, params, _context, many) -> None:
        statements.append(Statement(sql, params, many and isinstance(params, list)))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        done = redeem(pin, key, now)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    topup = done.outcome().topup
    roles: dict[object, str] = {getattr(line, c): f"row:{c}" for c in capture.ROW_COLUMNS}
    roles.update({line.msisdn: "msisdn", topup.id: "topup_id", topup.journal_entry_id: "entry_id", key: "key",
                  now - timedelta(hours=24): "since", keys.hash(pins.normalize(pin) or ""): "pin_hash"})
    assert done.serial is not None
    return Capture(statements, roles, now, line.validity_ends_at), done.serial


def pgbench_script(cap: Capture, serial: int, *, nlines: int, first_serial: int, cards: int) -> str:
    """BEGIN, the captured statements with their values as expressions, COMMIT. Each transaction takes a card of
    its own: client c's k-th takes card start + c + 64k (pgbench keeps a client's variables between transactions;
    `start` is given with -D), wrapping around after `cards`."""
    out = [f"\\set n random(0, {nlines - 1})"]
    out += [f"\\set {v} random(1, 9223372036854775807)" for v in ("t_hi", "t_lo", "e_hi", "e_lo")]
    out += ["\\set k :k + 1", f"\\set s {first_serial} + (:start + :client_id + {CONNECTIONS} * :k) % {cards}"]
    out.append("BEGIN;")
    locked_row_read = False
    for st in cap.statements:
        sql = " ".join(st.sql.split())
        rows = st.params if st.many else [st.params]
        commands = [capture._PLACEHOLDER.sub(lambda m, row=row: _expr(cap, serial, row[m[1]]), sql) for row in rows]
        if st.many:
            out += ["\\startpipeline", *(c + ";" for c in commands), "\\endpipeline"]
        elif sql.startswith("SELECT") and not locked_row_read:
            out.append(commands[0] + " \\gset row_")
            locked_row_read = True
        else:
            out.append(commands[0] + ";")
    out.append("COMMIT;")
    return "\n".join(out) + "\n"


# Values of a redemption beside a top-up's: the card (its serial; its PIN's hash, read by serial, since pgbench
# cannot compute an HMAC) and the start of the failure window.
_EXTRA = {"since": "(now() - interval '24 hours')", "pin_hash": "(SELECT pin_hash FROM vouchers WHERE serial = :s)",
          "serial": ":s"}


def _expr(cap: Capture, serial: int, raw: object) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw == serial:
        return _EXTRA["serial"]
    binary = getattr(raw, "obj", raw)  # psycopg gets bytes wrapped in Binary
    if isinstance(binary, bytes) and cap.roles.get(binary) == "pin_hash":
        return _EXTRA["pin_hash"]
    token = capture.tokenize(cap, raw)
    if token[0] == "role" and token[1] in _EXTRA:
        return _EXTRA[token[1]]
    return capture._pg_expr(token)


def pgbench(database: str, script: Path, seconds: int, *, start: int) -> tuple[int, float]:
    """(transactions processed, tps) of one pgbench run; card numbering starts at `start`."""
    out = subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-M", "prepared",
                          "-c", str(CONNECTIONS), "-j", "2", "-T", str(seconds), "-D", f"start={start}",
                          "-D", "k=-1", "-f", str(script), database],
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed[1]):
        console.print(f"[red]pgbench: {failed[1]} failed transactions[/red]")
    processed = int(re.search(r"number of transactions actually processed: (\d+)", out)[1])
    return processed, float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)[1])
