"""Cashback: what attribution costs a top-up, and the worker's credit rate.

1. Paying a quote that carries an active partner's code (the conversion row, its ledger entry and the signed
   postback in the outbox, all in the top-up's transaction) against paying the same kind of quote without one
   (the raw baseline: the same top-up path, which skips cashback without a query), both measured in this run on
   the same database, one line per top-up.
2. The worker crediting customers' cashback after the cooling-off days (`settle_due`: the line locked, the row
   moved once, the ledger entry, the SMS) against the raw baseline of the bare `ledger.post` of the same credit,
   one transaction each."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta

from bench.common import OUT, Sizes, note, report
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg

OFFER = "fr-orange-mobicarte-10"


def bench_cashback_sqlite(sizes: Sizes) -> None:
    folder = OUT / "cashback"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        _run(f"sqlite:///{folder / 'cashback.db'}", max(200, sizes.topup_lines // 10), "cashback_sqlite")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(url: str, n: int, name: str) -> None:
    from simkeep.catalog import service as catalog
    from simkeep.line import service as lines
    from simkeep.migrate import upgrade
    from simkeep.promotion import cashback
    from simkeep.promotion import service as promotions
    from simkeep.promotion.service import CampaignSpec
    from simkeep.topup import service as topups

    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        cashback.create_partner(session, code="BENCH", name="Bench", percent_bp=250, fixed_minor=30, currency="EUR",
                                postback_url="https://partner.example/pb", actor="bench", reason="bench", now=now)
        campaign = promotions.create(session, CampaignSpec(
            name="5 % back", benefit="cashback_percent", benefit_value=5, starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=30)), actor="bench", reason="bench", now=now)
        promotions.change_state(session, campaign.id, "start", actor="bench", reason="bench", now=now)
    numbers = [f"+336{10_000_000 + i:08d}" for i in range(3 * n)]
    with db.transaction() as session:
        for number in numbers:
            lines.create_line(session, msisdn=number, operator_id="fr-orange-mobicarte", language="fr", now=now)

    def pay(batch: list[str], partner: str | None, tag: str) -> float:
        started = time.perf_counter()
        for i, number in enumerate(batch):
            with db.transaction() as session:
                quote = topups.quote(session, msisdn=number, offer_id=OFFER, channel="api", now=now,
                                     partner_code=partner)
                topups.top_up(session, principal="bench", idempotency_key=f"{tag}{i}", msisdn=number,
                              offer_id=OFFER, channel="api", now=now, quote_id=quote.id)
        return len(batch) / (time.perf_counter() - started)

    plain = pay(numbers[:n], None, "plain")
    attributed = pay(numbers[n:2 * n], "BENCH", "partner")
    report(f"{name}_topups_with_partner", round(attributed), "per_s")
    report(f"{name}_topups_without_partner", round(plain), "per_s")
    report(f"{name}_partner_ratio", round(attributed / plain, 2), "x")

    # The worker's credit of the 2n cashbacks recorded above, then the raw ledger.post of n more credits.
    later = now + timedelta(days=15)
    started = time.perf_counter()
    settled = cashback.settle_due(db.transaction, now=later, cooling_days=14, limit=10 * n)
    credit_rate = settled.credited / (time.perf_counter() - started)
    with db.transaction(write=False) as session:
        bonus_ids = [lines.find_live_line(session, number).bonus_account_id for number in numbers[2 * n:]]
    expense = ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR")
    started = time.perf_counter()
    for i, bonus_id in enumerate(bonus_ids):
        with db.transaction() as session:
            amount = Money(50, "EUR")
            ledger.post(session, kind="cashback", reference=f"raw-cashback:{i}", now=later,
                        legs=[Leg(bonus_id, amount, tracked=True), Leg(expense, -amount)])
    raw_rate = len(bonus_ids) / (time.perf_counter() - started)
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok
    note(f"{name}: {n} top-ups each side, {settled.credited} cashbacks credited, {len(bonus_ids)} raw credits")
    report(f"{name}_credits", round(credit_rate), "per_s")
    report(f"{name}_credits_raw", round(raw_rate), "per_s")
    report(f"{name}_credits_ratio", round(credit_rate / raw_rate, 2), "x")
    db.dispose()
