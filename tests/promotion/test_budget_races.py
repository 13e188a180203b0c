"""Campaign budgets hold exactly under concurrency (run them on PostgreSQL: SIMKEEP_TEST_DATABASE_URL): 64 renewals
racing for 10 uses, for a money budget, 64 quotes held then paid, and a per-line limit raced on one line. Exact
counts in the campaign's row, in promotion_uses and in the ledger's promotion expense, which stays balanced."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from simkeep.core.errors import PromotionUnavailable
from simkeep.ledger import service as ledger
from simkeep.promotion import service as promotions
from simkeep.promotion.models import RESERVED, USED, Promotion, PromotionUse
from simkeep.promotion.service import QuoteFor
from simkeep.topup import service as topups
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.promotions import make_promotion
from tests.web import ADMIN, freeze_clock, ledger_ok, race

NOW = T0 + timedelta(days=1)
OFFER = "fr-orange-mobicarte-25"  # €25 with a €5 bonus: 20 % off is €5
BONUS = 500
NUMBERS = [f"+336123456{i:02d}" for i in range(64)]


@pytest.fixture
def lines(db, monkeypatch):
    freeze_clock(monkeypatch, NOW)
    return [make_line(db, msisdn=n, now=T0) for n in NUMBERS]


def post_topup(base: str, msisdn: str, key: str, quote_id: str | None = None, offer: str = OFFER) -> httpx.Response:
    body = {"msisdn": msisdn, "offer_id": offer, "channel": "api", **({"quote_id": quote_id} if quote_id else {})}
    return httpx.post(f"{base}/api/v1/topups", json=body, headers={**ADMIN, "Idempotency-Key": key}, timeout=120)


def expense(db) -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR"))


def campaign(db, promo: Promotion) -> tuple[int, int, int, int]:
    """(uses, spent, uses rows used, their cost) of the campaign."""
    with db.transaction(write=False) as session:
        row = session.get(Promotion, promo.id)
        used, cost = session.execute(select(func.count(), func.coalesce(func.sum(PromotionUse.cost_minor), 0)).where(
            PromotionUse.promotion_id == promo.id, PromotionUse.state == USED)).one()
        return row.uses, row.spent_minor, used, int(cost)


def prices(db) -> list[int]:
    with db.transaction(write=False) as session:
        return sorted(session.scalars(select(TopUp.price_minor)))


def test_64_renewals_race_for_10_uses_and_exactly_10_are_discounted(live_server, db, lines):
    promo = make_promotion(db, now=NOW, benefit_value=20, max_uses=10)
    before = expense(db)
    responses = race(64, lambda i: post_topup(live_server, NUMBERS[i], f"k{i}"))
    # Nobody is refused for a campaign that ran out while paying: they pay list price instead.
    assert [r.status_code for r in responses] == [201] * 64
    assert sorted(r.json()["amount"]["amount_minor"] for r in responses) == [2000] * 10 + [2500] * 54
    assert prices(db) == [2000] * 10 + [2500] * 54
    assert campaign(db, promo) == (10, 5000, 10, 5000)
    assert sum(r.json()["quote_id"] is not None for r in responses) == 10
    # Promotion expense: the campaign's €50 and every renewal's €5 offer bonus.
    assert expense(db) - before == -(5000 + 64 * BONUS)
    assert ledger_ok(db)


def test_a_money_budget_is_spent_exactly_to_the_last_cent(live_server, db, lines):
    # €5 off each renewal and a budget of €37.50: seven renewals, €2.50 left that no €5 use fits.
    promo = make_promotion(db, now=NOW, benefit="amount_off", benefit_value=500, currency="EUR", budget_minor=3750)
    stacked = make_promotion(db, now=NOW, name="+1 €", benefit="bonus_credit", benefit_value=100, currency="EUR",
                             stackable=True, budget_minor=2000)  # twenty €1 bonuses, exactly
    before = expense(db)
    responses = race(64, lambda i: post_topup(live_server, NUMBERS[i], f"k{i}"))
    assert [r.status_code for r in responses] == [201] * 64
    assert prices(db) == [2000] * 7 + [2500] * 57
    assert campaign(db, promo) == (7, 3500, 7, 3500)
    assert campaign(db, stacked) == (20, 2000, 20, 2000)
    assert sorted(r.json()["bonus"]["amount_minor"] for r in responses) == [BONUS] * 44 + [BONUS + 100] * 20
    assert expense(db) - before == -(3500 + 2000 + 64 * BONUS)
    assert ledger_ok(db)


def test_64_quotes_held_at_once_then_paid_take_exactly_10_uses(live_server, db, lines):
    promo = make_promotion(db, now=NOW, benefit_value=20, max_uses=10)
    shown = []  # (quote id, line id, price), each quote in its own transaction
    for n in NUMBERS:
        with db.transaction() as session:
            q = topups.quote(session, msisdn=n, offer_id=OFFER, channel="api", now=NOW)
            shown.append((q.id, q.line_id, q.price_minor))
    assert {price for _, _, price in shown} == {2000}  # every quote shows the campaign: the budget is read, not taken

    def hold(i: int) -> str:
        quote_id, line_id, _ = shown[i]
        try:
            with db.transaction() as session:
                promotions.hold(session, quote_id, now=NOW + timedelta(minutes=1), target=QuoteFor(
                    line_id, NUMBERS[i], "fr-orange-mobicarte", OFFER, "api", "EUR"))
            return "held"
        except PromotionUnavailable:
            return "ran out"

    outcomes = race(64, hold)
    assert sorted(outcomes) == ["held"] * 10 + ["ran out"] * 54
    assert campaign(db, promo) == (10, 5000, 0, 0)
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(PromotionUse).where(
            PromotionUse.state == RESERVED)) == 10
    before = expense(db)
    responses = race(64, lambda i: post_topup(live_server, NUMBERS[i], f"k{i}", str(shown[i][0])))
    paid = [i for i, r in enumerate(responses) if r.status_code == 201]
    assert paid == [i for i, o in enumerate(outcomes) if o == "held"]
    assert {(r.status_code, r.json()["error"]["code"]) for r in responses if r.status_code != 201} == {
        (409, "promotion_unavailable")}
    assert prices(db) == [2000] * 10
    assert campaign(db, promo) == (10, 5000, 10, 5000)
    assert expense(db) - before == -(5000 + 10 * BONUS)
    assert ledger_ok(db)


def test_a_per_line_limit_holds_when_one_line_races_itself(live_server, db, lines):
    promo = make_promotion(db, now=NOW, benefit_value=20, per_line_limit=1)
    number = NUMBERS[0]
    # €5 for 7 days (twenty 60-day renewals would pass the operator's validity cap): 20 % off is €1.
    responses = race(20, lambda i: post_topup(live_server, number, f"same-{i}", offer="fr-orange-mobicarte-5"))
    assert [r.status_code for r in responses] == [201] * 20
    assert prices(db) == [400] + [500] * 19
    assert campaign(db, promo) == (1, 100, 1, 100)
    # Quotes read the limit but do not take it: twenty quotes for another line, held at once, and one holds.
    other = NUMBERS[1]
    shown = []
    for _ in range(20):
        with db.transaction() as session:
            q = topups.quote(session, msisdn=other, offer_id=OFFER, channel="api", now=NOW)
            shown.append((q.id, q.line_id))
    assert len({line_id for _, line_id in shown}) == 1

    def hold(i: int) -> bool:
        try:
            with db.transaction() as session:
                promotions.hold(session, shown[i][0], now=NOW, target=QuoteFor(
                    shown[i][1], other, "fr-orange-mobicarte", OFFER, "api", "EUR"))
            return True
        except PromotionUnavailable:
            return False

    assert sum(race(20, hold)) == 1
    assert campaign(db, promo)[:2] == (2, 600)
    assert ledger_ok(db)
