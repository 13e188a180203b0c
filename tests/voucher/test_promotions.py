"""A recharge card's price is its face value: bonus campaigns for channel `voucher` (bonus credit, bonus days)
apply to it, discounts never do; the quote it was priced by is recorded on its top-up and shown on the portal's
result page."""

from __future__ import annotations

from datetime import timedelta

from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.promotion.models import AMOUNT_OFF, BONUS_CREDIT, BONUS_DAYS, USED, Promotion, Quote
from simkeep.topup import service as topups
from simkeep.voucher import service as vouchers
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.promotions import make_promotion
from tests.factories.vouchers import make_reseller, redeem, sold_cards
from tests.web import ledger_ok

NOW = T0 + timedelta(hours=1)


def expense(db) -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR"))


def test_a_bonus_campaign_applies_to_a_card_and_its_quote_is_recorded(db):
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    cards = sold_cards(db, quantity=1, now=T0)
    credit = make_promotion(db, now=T0, name="Cards +€2", benefit=BONUS_CREDIT, benefit_value=200, currency="EUR",
                            channels=["voucher"])
    days = make_promotion(db, now=T0, name="Cards +7 days", benefit=BONUS_DAYS, benefit_value=7, stackable=True,
                          channels=["voucher"])
    make_promotion(db, now=T0, name="Portal +€9", benefit=BONUS_CREDIT, benefit_value=900, currency="EUR",
                   channels=["portal"])
    with db.transaction() as session:  # what the card brings, priced as the redemption will price it
        shown = topups.quote(session, msisdn="+33612345678", offer_id="fr-orange-mobicarte-10", channel="voucher",
                             now=NOW, fixed_price=Money(1000, "EUR"))
    start, before = view(db), expense(db)
    topup = redeem(db, pin=cards[0][1], now=NOW).outcome().topup
    # Face value €10 paid from the card's liability, €2 bonus from promotion expense, 14 + 7 days.
    assert (topup.price_minor, topup.bonus_minor) == (1000, 200)
    assert (shown.price_minor, shown.bonus_minor, shown.bonus_days) == (1000, 200, 7)
    assert topup.validity_ends_at == shown.validity_ends_at
    assert view(db).balance.minor == start.balance.minor + 1200
    assert expense(db) - before == -200
    with db.transaction(write=False) as session:
        paid = session.get(Quote, topup.quote_id)
        assert (paid.channel, paid.price_minor, paid.bonus_days, paid.state) == ("voucher", 1000, 7, USED)
        assert [a["name"] for a in vouchers.applied_promotions(session, topup)] == ["Cards +€2", "Cards +7 days"]
        assert (session.get(Promotion, credit.id).uses, session.get(Promotion, days.id).uses) == (1, 1)
        assert vouchers.reconcile(session) == []
    assert ledger_ok(db)


def test_a_discount_never_changes_a_cards_face_value(db):
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    cards = sold_cards(db, quantity=1, now=T0)
    everywhere = make_promotion(db, now=T0, name="-50% everywhere", benefit_value=50)
    off = make_promotion(db, now=T0, name="Cards €3 off", benefit=AMOUNT_OFF, benefit_value=300, currency="EUR",
                         channels=["voucher"])
    start, before = view(db), expense(db)
    topup = redeem(db, pin=cards[0][1], now=NOW).outcome().topup
    assert (topup.price_minor, topup.bonus_minor, topup.quote_id) == (1000, 0, None)
    assert view(db).balance.minor == start.balance.minor + 1000
    assert expense(db) == before
    with db.transaction(write=False) as session:
        assert (session.get(Promotion, everywhere.id).uses, session.get(Promotion, off.id).uses) == (0, 0)
        assert vouchers.reconcile(session) == []
    assert ledger_ok(db)
