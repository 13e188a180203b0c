"""An agent's cash top-up at the counter, as POST /counter/lines/{msisdn}/sale runs it (the ID check required, then
store.service.sell inside db.write — drawer lock, top-up, receipt, sale row, commission — and .outcome() after the
commit), against the raw baseline measured in the same run: topup.service.top_up alone in one transaction (lock the
line, ledger entry, validity, outbox row). One process, one sale at a time, latencies per call; the two kinds
alternate call by call on lines of their own, so both see the same machine. PostgreSQL and SQLite.

    python -m bench.run --only counter_pg,counter_sqlite [--quick]
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.common import OUT, Sizes, drop_database, note, pg_url, recreate_database, report
from simkeep.db import Database

OPERATOR, OFFER = "fr-orange-mobicarte", "fr-orange-mobicarte-5"  # 7 days a sale: far from the 730-day cap
PG_DB = "simkeep_bench_counter"


def bench_counter_pg(sizes: Sizes) -> None:
    _on_pg(sizes, "counter_pg")


def bench_counter_sqlite(sizes: Sizes) -> None:
    _on_sqlite(sizes, "counter_sqlite")


def bench_counter_quotes_pg(sizes: Sizes) -> None:
    """The sale as the pages make it with three live counter campaigns: the quote shown, then exactly it taken."""
    _on_pg(sizes, "counter_quotes_pg", quoted=True)


def bench_counter_quotes_sqlite(sizes: Sizes) -> None:
    _on_sqlite(sizes, "counter_quotes_sqlite", quoted=True)


def _on_pg(sizes: Sizes, name: str, quoted: bool = False) -> None:
    recreate_database(PG_DB)
    try:
        _run(pg_url(PG_DB), sizes, name, quoted)
    finally:
        drop_database(PG_DB)


def _on_sqlite(sizes: Sizes, name: str, quoted: bool = False) -> None:
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        _run(f"sqlite:///{folder / 'counter.db'}", sizes, name, quoted)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _numbers(prefix: str, n: int) -> list[str]:
    return [f"+336{prefix}{i:07d}" for i in range(n)]


def _run(url: str, sizes: Sizes, name: str, quoted: bool) -> None:
    from simkeep.catalog import service as catalog
    from simkeep.line import service as lines
    from simkeep.migrate import upgrade
    from simkeep.promotion import service as promotions
    from simkeep.promotion.service import CampaignSpec
    from simkeep.staff import service as staff
    from simkeep.store import console, directory
    from simkeep.store import service as stores
    from simkeep.store.directory import StoreFields
    from simkeep.store.service import Commission, Seller
    from simkeep.topup import service as topups

    n = max(sizes.topup_lines // 10, 100)  # 1,000 sales of each kind (quick: 200)
    now = datetime.now(UTC).replace(microsecond=0)
    upgrade(url)
    db = Database(url)
    sold, raw = _numbers("1", n), _numbers("2", n)
    checked = set(sold)  # the counter's lines have had their customer's ID checked, as the page requires
    started = time.perf_counter()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        store = directory.add_store(session, StoreFields(
            code="BENCH-STORE", name="Bench store", address="1 rue du Banc", postcode="75001", city="Paris",
            latitude=48.86, longitude=2.34, phone=None, hours={"mon": [["09:00", "19:00"]]},
            operators=[OPERATOR], languages=["zh_CN", "fr"], services=["renewal"]), now=now)
        agent = staff.create_account(session, username="bench-agent", role="agent", password_hash="-",
                                     must_change_password=False, by="bench", now=now, store_id=store.id)
        seller = Seller(agent_id=agent.id, actor="staff:bench-agent", store_id=store.id)
        stores.open_drawer(session, seller=seller, float_minor=10_000, now=now)
        for msisdn in sold + raw:
            line = lines.create_line(session, msisdn=msisdn, operator_id=OPERATOR, language="zh_CN", now=now)
            if msisdn in checked:
                console.record_id_check(session, store_id=store.id, line=line, document_type="passport",
                                        issuing_country="CN", last4="1234", checked_by=seller.actor, now=now)
        # Quoted: three live campaigns for the counter: 20 % off, +10 bonus days and €0.50 bonus credit stacked.
        window = dict(channels=["agent"], starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30))
        for spec in (CampaignSpec(name="-20%", benefit="percent_off", benefit_value=20, **window),
                     CampaignSpec(name="+10 days", benefit="bonus_days", benefit_value=10, stackable=True, **window),
                     CampaignSpec(name="+0.50", benefit="bonus_credit", benefit_value=50, currency="EUR",
                                  stackable=True, **window)) if quoted else ():
            made = promotions.create(session, spec, actor="bench", reason="bench", now=now)
            promotions.change_state(session, made.id, "start", actor="bench", reason="bench", now=now)
    note(f"{name}: {2 * n} lines, a store, an agent with an open drawer{', three campaigns' if quoted else ''} in "
         f"{time.perf_counter() - started:.1f} s")
    commission = Commission(percent=Decimal("3"))
    at = now + timedelta(minutes=1)

    def counter_sale(i: int) -> None:
        shown = db.write(lambda session: stores.quote(session, seller=seller, msisdn=sold[i], offer_id=OFFER,
                                                      now=at)) if quoted else None

        def work(session):
            console.require_id_check(session, store_id=store.id, msisdn=sold[i], now=at)
            return stores.sell(session, seller=seller, msisdn=sold[i], offer_id=OFFER, method="cash",
                               idempotency_key=f"counter:bench-{i}", commission=commission,
                               receipt_url=lambda receipt_id: f"http://bench/receipts/{receipt_id}",
                               language="zh_CN", now=at, quote_id=shown.id if shown else None)

        db.write(work).outcome()

    def raw_top_up(i: int) -> None:
        with db.transaction() as session:
            # The baseline is at list price: with campaigns, on a channel they do not cover.
            topups.top_up(session, principal="bench", idempotency_key=f"raw-{i}", msisdn=raw[i], offer_id=OFFER,
                          channel="api" if quoted else "agent", now=at)

    for i in range(min(20, n)):  # warm-up: connections, statement caches, imports (on lines measured later too)
        counter_sale(i)
        raw_top_up(i)
    times: dict[str, list[float]] = {"counter": [], "raw": []}
    for i in range(min(20, n), n):
        for kind, call in (("counter", counter_sale), ("raw", raw_top_up)) if i % 2 else (
                ("raw", raw_top_up), ("counter", counter_sale)):
            t0 = time.perf_counter()
            call(i)
            times[kind].append((time.perf_counter() - t0) * 1000)
    with db.transaction(write=False) as session:
        drawer = stores.open_drawer_of(session, agent.id)
        paid = 400 if quoted else 500  # quoted: €5 at 20 % off
        assert stores.expected_cash(session, drawer) == 10_000 + paid * n, "every sale landed in the drawer"
    db.dispose()
    for kind, values in times.items():
        label = name if kind == "counter" else f"{name}_raw"
        report(f"{label}_p50", _percentile(values, 50), "ms")
        report(f"{label}_p95", _percentile(values, 95), "ms")
    report(f"{name}_ratio_p50", round(_percentile(times["counter"], 50) / _percentile(times["raw"], 50), 2),
           "x raw top_up p50 (list price)")


def _percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))], 3)
