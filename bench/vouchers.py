"""Recharge vouchers: a batch of a million cards made with `simkeep voucher batch create` (the service, the card
printer's CSV, the progress bar), against the same number of rows inserted by a plain executemany of precomputed
values; then lookups of an unknown PIN (normalize, HMAC, the indexed select) against a raw SELECT by pin_hash.

Each side works on its own fresh copy of one migrated template (catalog loaded, a staff account), so neither finds
the other's rows or pages; the batch is made in a child process, so its peak RSS is its own."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import (
    OUT,
    Sizes,
    drop_database,
    note,
    pg_admin,
    pg_dsn,
    pg_url,
    recreate_database,
    report,
    size_label,
)
from simkeep.config import Settings
from simkeep.db import Database

PEPPER = "bench-voucher-pepper-0123456789abcdef0123456789"
SEAL = "bench-voucher-seal-key-0123456789abcdef01234"
OFFER = "fr-orange-mobicarte-10"
STAFF = "bench-maker"
PG_TEMPLATE, PG_SERVICE, PG_RAW = "simkeep_bench_vouchers_tpl", "simkeep_bench_vouchers", "simkeep_bench_vouchers_raw"


def bench_vouchers_pg(sizes: Sizes) -> None:
    recreate_database(PG_TEMPLATE)
    _prepare(pg_url(PG_TEMPLATE))
    recreate_database(PG_RAW, PG_TEMPLATE)
    recreate_database(PG_SERVICE, PG_TEMPLATE)
    try:
        _both(pg_url(PG_SERVICE), pg_url(PG_RAW), sizes, f"vouchers_{size_label(sizes.voucher_cards)}_pg")
    finally:
        for name in (PG_SERVICE, PG_RAW, PG_TEMPLATE):
            drop_database(name)


def bench_vouchers_sqlite(sizes: Sizes) -> None:
    folder = OUT / "vouchers"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    template = folder / "template.db"
    _prepare(f"sqlite:///{template}")
    for name in ("service.db", "raw.db"):
        shutil.copy(template, folder / name)
    try:
        _both(f"sqlite:///{folder / 'service.db'}", f"sqlite:///{folder / 'raw.db'}", sizes,
              f"vouchers_{size_label(sizes.voucher_cards)}_sqlite")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _prepare(url: str) -> None:
    from simkeep.catalog import service as catalog
    from simkeep.migrate import upgrade
    from simkeep.staff import service as staff

    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=datetime.now(UTC))
        staff.create_account(session, username=STAFF, role="finance", password_hash="-", must_change_password=False,
                             by="bench", now=datetime.now(UTC))
    db.dispose()


def _both(service_url: str, raw_url: str, sizes: Sizes, name: str) -> None:
    cards = sizes.voucher_cards
    _checkpoint(raw_url)
    raw = _child("raw", raw_url, cards)
    _checkpoint(service_url)
    made = _child("create", service_url, cards)
    note(f"{name}: service {made['seconds']:.1f} s ({made['rows']} rows, CSV {made['csv_mb']:.0f} MB, RSS "
         f"{made['base_mb']:.0f} MB before, {made['peak_mb']:.0f} MB peak); raw executemany {raw['seconds']:.1f} s "
         f"({raw['rows']} rows, values precomputed in {raw['prepare_s']:.1f} s, {raw['peak_mb']:.0f} MB peak)")
    report(f"{name}_create_s", round(made["seconds"], 2), "s")
    report(f"{name}_create_peak_mb", round(made["peak_mb"]), "MB")
    report(f"{name}_create_rows", made["rows"], "rows")
    report(f"{name}_raw_s", round(raw["seconds"], 2), "s")
    report(f"{name}_raw_peak_mb", round(raw["peak_mb"]), "MB")
    report(f"{name}_create_ratio", round(raw["seconds"] / made["seconds"], 2), "x")  # of the raw rate: 1 is equal
    _settle(service_url)
    lookups = _lookups(service_url, sizes.run_seconds / 2, sizes.warmup_seconds)
    report(f"{name}_unknown_pin_lookups", round(lookups["service"]), "per_s")
    report(f"{name}_unknown_pin_lookups_own_tx", round(lookups["per_transaction"]), "per_s")
    report(f"{name}_unknown_pin_lookups_raw", round(lookups["raw"]), "per_s")
    report(f"{name}_unknown_pin_lookups_ratio", round(lookups["service"] / lookups["raw"], 2), "x")


def _settle(url: str) -> None:
    """After a million inserts: statistics gathered, the write-ahead log written back (SQLite reads would otherwise
    look pages up in a WAL of hundreds of MB), so the lookups measure lookups."""
    if url.startswith("postgresql"):
        with psycopg.connect(pg_dsn(url.rsplit("/", 1)[1]), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE vouchers")
        _checkpoint(url)
    else:
        conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("ANALYZE")
        conn.close()


def _checkpoint(url: str) -> None:
    if url.startswith("postgresql"):
        with pg_admin() as conn:
            conn.execute("CHECKPOINT")


def _child(kind: str, url: str, cards: int) -> dict:
    env = {**os.environ, "SIMKEEP_DATABASE_URL": url, "SIMKEEP_VOUCHER_PEPPER": PEPPER,
           "SIMKEEP_VOUCHER_SEAL_KEY": SEAL, "SIMKEEP_DATA_DIR": str(OUT / "vouchers-data"), "COLUMNS": "120"}
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / f"vouchers_{kind}.log", "wb") as log:
        child = subprocess.run([sys.executable, "-m", "bench.vouchers", kind, url, str(cards)], env=env,
                               stdout=subprocess.PIPE, stderr=log, timeout=3600)
    if child.returncode:
        raise RuntimeError(f"bench.vouchers {kind} failed; see {OUT / f'vouchers_{kind}.log'}")
    return json.loads(child.stdout.decode().strip().splitlines()[-1])


# -- in the child processes -------------------------------------------------------------------------------------------

def timed_create(url: str, cards: int) -> dict:
    """`simkeep voucher batch create` in this process, as an operator runs it."""
    from simkeep.cli import app

    out = OUT / "vouchers-cards"
    shutil.rmtree(out, ignore_errors=True)
    expires = (datetime.now(UTC) + timedelta(days=400)).date().isoformat()
    base_mb = peak_rss_mb()
    started = time.perf_counter()
    code = app(["voucher", "batch", "create", "--offer", OFFER, "--quantity", str(cards), "--expires", expires,
                "--reason", "bench", "--out", str(out), "--as", STAFF], standalone_mode=False)
    seconds = time.perf_counter() - started
    if code:
        raise SystemExit(f"voucher batch create exited {code}")
    [csv_file] = list(out.iterdir())
    csv_mb = csv_file.stat().st_size / 2**20
    shutil.rmtree(out)  # PINs of a throwaway database, still PINs
    db = Database(url)
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM vouchers").scalar_one()
    db.dispose()
    return {"seconds": seconds, "rows": rows, "csv_mb": csv_mb, "base_mb": base_mb, "peak_mb": peak_rss_mb()}


def timed_raw(url: str, cards: int) -> dict:
    """The same rows (serial, batch, PIN hash, state, expiry) by plain executemany in chunks of 5,000 from values
    computed beforehand, one transaction, on the same database settings (SQLite: WAL, synchronous=NORMAL and the
    same 64 MB page cache the service asks for)."""
    started = time.perf_counter()
    batch_id, first = uuid.uuid4(), 100_000_000_001
    expires = datetime.now(UTC) + timedelta(days=400)
    hashes = [os.urandom(32) for _ in range(cards)]
    prepare_s = time.perf_counter() - started
    batch = ("INSERT INTO voucher_batches (id, kind, operator_id, offer_id, face_value_minor, currency, "
             "validity_days, serial_from, serial_to, quantity, expires_at, created_by, reason, created_at) VALUES "
             "({p}, 'physical', 'fr-orange-mobicarte', '{offer}', 1000, 'EUR', 14, {p}, {p}, {p}, {p}, 'bench', "
             "'bench', {p})")
    insert = "INSERT INTO vouchers (serial, batch_id, pin_hash, state, expires_at) VALUES ({p}, {p}, {p}, {p}, {p})"
    if url.startswith("postgresql"):
        values = [(first + i, batch_id, h, "generated", expires) for i, h in enumerate(hashes)]
        prepare_s = time.perf_counter() - started
        with psycopg.connect(pg_dsn(url.rsplit("/", 1)[1])) as conn, conn.cursor() as cur:
            started = time.perf_counter()
            cur.execute(batch.format(p="%s", offer=OFFER), (batch_id, first, first + cards - 1, cards, expires,
                                                            expires))
            for i in range(0, cards, 5000):
                cur.executemany(insert.format(p="%s"), values[i:i + 5000])
            conn.commit()
            seconds = time.perf_counter() - started
    else:
        day = expires.replace(tzinfo=None).isoformat(sep=" ")
        values = [(first + i, batch_id.hex, h, "generated", day) for i, h in enumerate(hashes)]
        prepare_s = time.perf_counter() - started
        conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        conn.executescript("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;")
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(batch.format(p="?", offer=OFFER), (batch_id.hex, first, first + cards - 1, cards, day, day))
        for i in range(0, cards, 5000):
            conn.executemany(insert.format(p="?"), values[i:i + 5000])
        conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        conn.close()
    return {"seconds": seconds, "rows": cards, "prepare_s": prepare_s, "peak_mb": peak_rss_mb()}


def _lookups(url: str, run_seconds: float, warmup_seconds: float) -> dict[str, float]:
    """PINs no card has, looked up one by one from one process: through the service (normalize, HMAC,
    voucher.service.find_card through a SQLAlchemy session), in one open read transaction and each in its own (as a
    redemption pays it: pool checkout with pre-ping, BEGIN, the select, the end), and raw (the HMAC and a prepared
    SELECT by pin_hash on one connection in autocommit)."""
    from simkeep.voucher import pins
    from simkeep.voucher import service as vouchers

    keys = pins.keys(Settings(voucher_pepper=PEPPER, voucher_seal_key=SEAL))
    unknown = pins.new_pins(50_000)
    db = Database(url)

    def find(session, pin: str) -> None:
        digits = pins.normalize(pin)
        assert digits is not None and vouchers.find_card(session, keys.hash(digits)) is None

    def in_own_transaction(pin: str) -> None:
        with db.transaction(write=False) as session:
            find(session, pin)

    sql = "SELECT serial, state, expires_at, batch_id FROM vouchers WHERE pin_hash = {p}"
    if url.startswith("postgresql"):
        raw_conn = psycopg.connect(pg_dsn(url.rsplit("/", 1)[1]), autocommit=True)
        query = sql.format(p="%s")

        def raw_lookup(pin: str) -> None:
            assert raw_conn.execute(query, (keys.hash(pin),), prepare=True).fetchone() is None
    else:
        raw_conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        query = sql.format(p="?")

        def raw_lookup(pin: str) -> None:
            assert raw_conn.execute(query, (keys.hash(pin),)).fetchone() is None

    # Each side twice, interleaved, the better run kept: on a shared machine a burst of load hits one run, not both.
    service = per_transaction = raw = 0.0
    for _round in range(2):
        with db.transaction(write=False) as session:
            service = max(service, _rate(lambda pin: find(session, pin), unknown, run_seconds, warmup_seconds))
        per_transaction = max(per_transaction, _rate(in_own_transaction, unknown, run_seconds, warmup_seconds))
        raw = max(raw, _rate(raw_lookup, unknown, run_seconds, warmup_seconds))
    raw_conn.close()
    db.dispose()
    return {"service": service, "per_transaction": per_transaction, "raw": raw}


def _rate(lookup, unknown: list[str], run_seconds: float, warmup_seconds: float) -> float:
    deadline = time.perf_counter() + warmup_seconds
    i = 0
    while time.perf_counter() < deadline:
        lookup(unknown[i % len(unknown)])
        i += 1
    done, started = 0, time.perf_counter()
    deadline = started + run_seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            lookup(unknown[(i + done) % len(unknown)])
            done += 1
    return done / (time.perf_counter() - started)


def peak_rss_mb() -> float:
    """VmHWM, the peak RSS of this process image (ru_maxrss carries the parent's peak over fork and exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


if __name__ == "__main__":
    kind, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = timed_create(target, count) if kind == "create" else timed_raw(target, count)
    shutil.rmtree(OUT / "vouchers-data", ignore_errors=True)
    print(json.dumps(result), flush=True)
