"""The store finder's "nearest 10" over 100,000 stores, on PostgreSQL and SQLite, p50/p95 per query, each against a
raw baseline measured in the same run on the same rows:

- PostgreSQL: simkeep.store.nearest (SQLAlchemy, the GiST index ix_stores_earth walked by ORDER BY <-> LIMIT,
  distances by earth_distance) against the same SQL sent raw through psycopg (prepared), and against a full scan
  (the same ORDER BY with the index switched off), to show what the index is worth. The plan is checked first:
  the query must walk ix_stores_earth.
- SQLite: the service (a bounding box on the latitude/longitude index, widened until enough, exact haversine)
  against the same bounding-box SQL through sqlite3, and against a full scan with haversine in Python.

The stores are 100,000 points spread over metropolitan France (denser around eight cities), seeded, so every run
measures the same rows; the query points are 500 seeded points (a warm-up of 50 first)."""

from __future__ import annotations

import math
import random
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from bench.common import OUT, Sizes, drop_database, note, pg_dsn, pg_url, recreate_database, report
from simkeep.db import Database

STORES = 100_000
QUERIES, WARMUP, K = 500, 50, 10
PG_DB = "simkeep_bench_stores"
CITIES = [(48.8566, 2.3522, 0.25), (45.7640, 4.8357, 0.12), (43.2965, 5.3698, 0.12), (50.6292, 3.0573, 0.08),
          (43.6047, 1.4442, 0.08), (44.8378, -0.5792, 0.08), (43.7102, 7.2620, 0.06), (48.5734, 7.7521, 0.06)]
RAW_PG = ("SELECT id, earth_distance(ll_to_earth(latitude, longitude), ll_to_earth(%(lat)s, %(lon)s)) FROM stores "
          "WHERE closed_at IS NULL ORDER BY ll_to_earth(latitude, longitude) <-> ll_to_earth(%(lat)s, %(lon)s) "
          "LIMIT %(k)s")


def _points(n: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    found = []
    for _ in range(n):
        if rng.random() < 0.6:
            lat, lon, spread = rng.choice(CITIES)
            found.append((lat + rng.gauss(0, spread), lon + rng.gauss(0, spread * 1.4)))
        else:
            found.append((rng.uniform(42.5, 51.0), rng.uniform(-4.5, 8.0)))
    return found


def _fill(url: str) -> None:
    """Migrate, then 100,000 stores sharing one ledger account (the finder never reads it)."""
    from sqlalchemy import insert

    from simkeep.ledger import service as ledger
    from simkeep.migrate import upgrade
    from simkeep.store.directory import city_key
    from simkeep.store.models import Store

    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    hours = {d: [["09:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    with db.transaction() as session:
        account = ledger.open_store_account(session, owner_id=uuid.uuid4(), currency="EUR", now=now)
        rows = [dict(id=uuid.uuid4(), code=f"B{i:06d}", name=f"Store {i}", address=f"{i} rue du Banc",
                     postcode=f"{75000 + i % 20000:05d}", city="Bench", city_key=city_key("Bench"), country="FR",
                     latitude=lat, longitude=lon, phone=None, timezone="Europe/Paris", hours=hours, closed_on=[],
                     operators=[], languages=["fr"], services=["renewal"], demo=True, currency="EUR",
                     account_id=account, created_at=now, updated_at=now, closed_at=None)
                for i, (lat, lon) in enumerate(_points(STORES, seed=12))]
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Store.__table__), rows[start:start + 10_000])
    db.dispose()


def _timed(run: Callable[[float, float], object], points: list[tuple[float, float]]) -> tuple[float, float]:
    for lat, lon in points[:WARMUP]:
        run(lat, lon)
    spent = []
    for lat, lon in points[WARMUP:]:
        started = time.perf_counter()
        run(lat, lon)
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.95) - 1]


def _service(db: Database) -> Callable[[float, float], object]:
    from simkeep.store import nearest

    def run(lat: float, lon: float):
        with db.transaction(write=False) as session:
            found = nearest.nearest(session, latitude=lat, longitude=lon, limit=K)
        assert len(found) == K
        return found
    return run


def _report(name: str, label: str, p50: float, p95: float) -> None:
    report(f"{name}_{label}_p50_ms", round(p50, 3), "ms")
    report(f"{name}_{label}_p95_ms", round(p95, 3), "ms")


def bench_stores_pg(sizes: Sizes) -> None:
    name = "stores_nearest10_100k_pg"
    recreate_database(PG_DB)
    try:
        _fill(pg_url(PG_DB))
        points = _points(QUERIES + WARMUP, seed=99)
        with psycopg.connect(pg_dsn(PG_DB), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE stores")
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + RAW_PG.replace("%(k)s", "10")
                                                        .replace("%(lat)s", "48.85").replace("%(lon)s", "2.35")))
            assert "ix_stores_earth" in plan, plan
            note(f"{name}: the plan walks the GiST index:\n{plan}")
            db = Database(pg_url(PG_DB))
            service = _timed(_service(db), points)
            db.dispose()
            raw = _timed(lambda lat, lon: conn.execute(RAW_PG, {"lat": lat, "lon": lon, "k": K},
                                                       prepare=True).fetchall(), points)
            conn.execute("SET enable_indexscan = off")
            conn.execute("SET enable_bitmapscan = off")
            scan = _timed(lambda lat, lon: conn.execute(RAW_PG, {"lat": lat, "lon": lon, "k": K},
                                                        prepare=True).fetchall(), points[:WARMUP + 100])
        _report(name, "service", *service)
        _report(name, "raw_index", *raw)
        _report(name, "raw_full_scan", *scan)
        report(f"{name}_service_vs_raw_p50", round(service[0] / raw[0], 2), "x")
        report(f"{name}_full_scan_vs_index_p50", round(scan[0] / raw[0], 1), "x")
    finally:
        drop_database(PG_DB)


def bench_stores_sqlite(sizes: Sizes) -> None:
    name = "stores_nearest10_100k_sqlite"
    folder = OUT / "stores"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stores.db"
    path.unlink(missing_ok=True)
    _fill(f"sqlite:///{path}")
    points = _points(QUERIES + WARMUP, seed=99)
    db = Database(f"sqlite:///{path}")
    service = _timed(_service(db), points)
    db.dispose()
    conn = sqlite3.connect(path)
    conn.execute("ANALYZE")
    rows = conn.execute("SELECT id, latitude, longitude FROM stores WHERE closed_at IS NULL").fetchall()
    raw = _timed(lambda lat, lon: _raw_box(conn, lat, lon), points)
    scan = _timed(lambda lat, lon: sorted(
        (_haversine(lat, lon, r[1], r[2]), r[0]) for r in rows)[:K], points[:WARMUP + 100])
    conn.close()
    _report(name, "service", *service)
    _report(name, "raw_box", *raw)
    _report(name, "full_scan_python", *scan)
    report(f"{name}_service_vs_raw_p50", round(service[0] / raw[0], 2), "x")
    report(f"{name}_full_scan_vs_service_p50", round(scan[0] / service[0], 1), "x")


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def _raw_box(conn: sqlite3.Connection, lat: float, lon: float) -> list:
    """The service's algorithm without SQLAlchemy: the box, widened ×4 until K stores lie within its radius."""
    radius = 5.0
    while True:
        dlat = radius / 111.19508
        dlon = radius / (111.19508 * math.cos(math.radians(min(89.0, abs(lat) + dlat))))
        rows = conn.execute("SELECT id, latitude, longitude FROM stores WHERE latitude BETWEEN ? AND ? AND "
                            "longitude BETWEEN ? AND ? AND closed_at IS NULL",
                            (lat - dlat, lat + dlat, lon - dlon, lon + dlon)).fetchall()
        found = sorted((_haversine(lat, lon, r[1], r[2]), r[0]) for r in rows)
        if sum(1 for d, _ in found if d <= radius) >= K:
            return found[:K]
        radius *= 4
