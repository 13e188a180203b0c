from simkeep.ledger import service as ledger
from simkeep.voucher import service as vouchers
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.vouchers import make_reseller, redeem, sold_cards


def test_a_sold_card_redeems_once(db):
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    cards = sold_cards(db, quantity=3, now=T0)
    before = view(db).balance
    first = redeem(db, pin=cards[0][1], now=T0)
    assert first.failure is None and first.outcome().topup.price_minor == 1000
    again = redeem(db, pin=cards[0][1], now=T0)
    assert again.failure == "used"
    assert view(db).balance.minor == before.minor + 1000
    with db.transaction(write=False) as s:
        assert ledger.verify(s).ok and vouchers.reconcile(s) == []
