"""What charging exactly a quote costs an online checkout (SQLite, in-process): the portal's path, quote the renewal
with three live campaigns and start the payment on that quote (the quote held, its campaigns' budget reserved,
the attempt recorded in the same transaction), against the raw baseline of the old path measured in the same run:
the payment attempt inserted at list price in its own transaction, with no pricing at all."""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.common import Sizes, report
from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.ids import new_id
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.migrate import upgrade
from simkeep.payment import service as payments
from simkeep.payment.models import PaymentAttempt
from simkeep.promotion import service as promotions
from simkeep.promotion.service import CampaignSpec
from simkeep.topup import service as topups

OPERATOR, OFFER = "fr-orange-mobicarte", "fr-orange-mobicarte-25"
LINES = 200


def bench_portal_quotes(sizes: Sizes) -> None:
    n = 300 if sizes.label == "quick" else 3000
    with tempfile.TemporaryDirectory(prefix="simkeep-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'simkeep.db'}"
        db = _prepare(url)
        quoted = _timed(n, lambda i: _quoted_checkout(db, i))
        raw = _timed(n, lambda i: _raw_attempt(db, i))
        db.dispose()
    report("portal_quoted_checkout_sqlite", round(n / quoted), "checkouts/s")
    report("portal_raw_attempt_sqlite", round(n / raw), "tx/s")
    report("portal_quoted_checkout_ratio", round(raw / quoted, 2), "x")


def _prepare(url: str) -> Database:
    upgrade(url)
    db, now = Database(url), clock.now()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        for i in range(LINES):
            lines.create_line(session, msisdn=_msisdn(i), operator_id=OPERATOR, now=now)
        window = {"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=30)}
        for spec in (CampaignSpec(name="-10%", benefit="percent_off", benefit_value=10, channels=["portal"], **window),
                     CampaignSpec(name="+7 days", benefit="bonus_days", benefit_value=7, stackable=True, **window),
                     CampaignSpec(name="Code", benefit="amount_off", benefit_value=300, currency="EUR", code="BENCH",
                                  **window)):
            promotion = promotions.create(session, spec, actor="bench", reason="bench", now=now)
            promotions.change_state(session, promotion.id, "start", actor="bench", reason="bench", now=now)
    return db


def _quoted_checkout(db: Database, i: int) -> None:
    now = clock.now()
    with db.transaction() as session:
        quote = topups.quote(session, msisdn=_msisdn(i % LINES), offer_id=OFFER, channel="portal", now=now)
        line, operator, offer = lines.lock_live_line(session, _msisdn(i % LINES), OFFER)
        payments.start_checkout(session, checkout_key=f"q{i}", line=line, operator=operator, offer=offer,
                                method="card", provider="sandbox", language="en", now=now, quote_id=quote.id)


def _raw_attempt(db: Database, i: int) -> None:
    now = clock.now()
    with db.transaction() as session:
        line = lines.find_live_line(session, _msisdn(i % LINES))
        session.execute(insert(PaymentAttempt).values(
            id=new_id(), checkout_key=f"r{i}", line_id=line.id, msisdn=line.msisdn, offer_id=OFFER,
            amount_minor=2500, currency="EUR", method="card", provider="sandbox", status="created",
            language="en", created_at=now, updated_at=now))


def _timed(n: int, work) -> float:
    for i in range(20):  # warm up
        work(n + i)
    started = time.perf_counter()
    for i in range(n):
        work(i)
    return time.perf_counter() - started


def _msisdn(i: int) -> str:
    return f"+3361{i:07d}"
