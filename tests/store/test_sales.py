"""Counter sales, drawers and voids through the store service: exact money, exact validity, nothing moved on a
refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simkeep.ledger import service as ledger
from simkeep.store import service as stores
from simkeep.store.models import Drawer, StoreSale
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller

WINDOW = timedelta(minutes=15)


@pytest.fixture
def counter(db, settings):
    """A store, its agent and manager, a line, and the agent's drawer opened with a 50.00 float."""
    make_line(db, now=T0)
    store = make_store(db, now=T0)
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    manager = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                       now=T0))
    open_drawer(db, agent, float_minor=5_000, now=T0)
    return store, agent, manager


def line_now(db) -> tuple:
    seen = view(db)
    return seen.balance, seen.line.validity_ends_at, seen.line.state


def balance(db, account_id) -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, account_id)


def system(db, kind: str, channel: str | None = None) -> int:
    return balance(db, ledger.system_account_id(kind, "EUR", channel))


def test_a_cash_sale_credits_the_line_and_the_store_owes_the_price_less_its_commission(db, counter):
    store, agent, _ = counter
    before = view(db)
    sale = sell(db, agent, now=T0 + timedelta(minutes=1)).outcome()
    after = view(db)
    assert (sale.method, sale.amount_minor, sale.commission_minor, sale.currency) == ("cash", 1000, 30, "EUR")
    assert after.balance.minor == before.balance.minor + 1000
    assert balance(db, store.account_id) == -970
    assert system(db, ledger.STORE_COMMISSION) == -30
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok
        drawer = stores.open_drawer_of(session, agent.agent_id)
        assert stores.expected_cash(session, drawer) == 6_000


def test_the_same_sale_sent_twice_sells_once(db, counter):
    _, agent, _ = counter
    first = sell(db, agent, key="twice", now=T0).outcome()
    again = sell(db, agent, key="twice", now=T0)
    assert again.replayed and again.outcome().id == first.id
    assert view(db).balance.minor == 1000


def test_cash_needs_an_open_drawer_and_a_refusal_moves_nothing(db, settings, counter):
    store, _, manager = counter
    before = line_now(db)
    with pytest.raises(stores.DrawerNotOpen):
        sell(db, manager, now=T0)
    assert line_now(db) == before and balance(db, store.account_id) == 0
    with pytest.raises(stores.TerminalReferenceRequired):
        sell(db, manager, method="card", now=T0)
    card = sell(db, manager, method="card", terminal_ref="AUTH 123456", now=T0).outcome()
    assert (card.drawer_id, card.terminal_ref, card.commission_minor) == (None, "AUTH 123456", 30)
    assert system(db, ledger.CLEARING, ledger.CARD_PRESENT) == -1000 and balance(db, store.account_id) == 30


def test_closing_a_drawer_short_posts_the_difference_and_a_second_close_is_refused(db, counter):
    store, agent, manager = counter
    sell(db, agent, now=T0)
    sell(db, agent, offer_id="fr-orange-mobicarte-25", now=T0)
    with db.transaction() as session:
        drawer = stores.open_drawer_of(session, agent.agent_id)
        closed = stores.close_drawer(session, drawer_id=drawer.id, store_id=store.id, counted_minor=8_480,
                                     by=agent.actor, now=T0 + timedelta(hours=8))
    assert (closed.expected_minor, closed.counted_minor, closed.difference_minor) == (8_500, 8_480, -20)
    # Sales 35.00 less commission 1.05 owed, less the 0.20 short: the store owes what it counted.
    assert balance(db, store.account_id) == -(3_500 - 105) + 20
    assert system(db, ledger.CASH_OVER_SHORT) == -20
    with db.transaction() as session, pytest.raises(stores.DrawerAlreadyClosed):
        stores.close_drawer(session, drawer_id=drawer.id, store_id=store.id, counted_minor=8_500, by=manager.actor,
                            now=T0 + timedelta(hours=9))
    with pytest.raises(stores.DrawerNotOpen):
        sell(db, agent, now=T0 + timedelta(hours=9))


def test_a_void_restores_balance_validity_and_the_books_exactly(db, counter):
    store, agent, manager = counter
    before = line_now(db)
    sale = sell(db, agent, offer_id="fr-orange-mobicarte-25", now=T0 + timedelta(minutes=1)).outcome()
    assert view(db).balance.minor == before[0].minor + 3000  # 25.00 and its 5.00 bonus
    with db.transaction() as session:
        voided = stores.void(session, sale_id=sale.id, store_id=store.id, by=manager.actor, reason="wrong number",
                             now=T0 + timedelta(minutes=10), window=WINDOW)
    assert voided.voided_by == manager.actor and voided.void_reason == "wrong number"
    assert line_now(db)[:2] == before[:2]
    assert balance(db, store.account_id) == 0 and system(db, ledger.STORE_COMMISSION) == 0
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok
        assert stores.expected_cash(session, session.get(Drawer, sale.drawer_id)) == 5_000
    with db.transaction() as session, pytest.raises(stores.SaleAlreadyVoided):
        stores.void(session, sale_id=sale.id, store_id=store.id, by=manager.actor, reason="again",
                    now=T0 + timedelta(minutes=11), window=WINDOW)


def test_a_void_after_the_window_or_from_another_store_moves_nothing(db, settings, counter):
    store, agent, manager = counter
    sale = sell(db, agent, now=T0).outcome()
    other = make_store(db, code="LYON-GUILLOTIERE", now=T0)
    before = line_now(db)
    for store_id, at, error in ((store.id, T0 + timedelta(minutes=16), stores.VoidWindowPassed),
                                (other.id, T0 + timedelta(minutes=5), stores.OtherStore)):
        with db.transaction() as session, pytest.raises(error):
            stores.void(session, sale_id=sale.id, store_id=store_id, by=manager.actor, reason="late",
                        now=at, window=WINDOW)
    assert line_now(db) == before
    with db.transaction(write=False) as session:
        assert session.get(StoreSale, sale.id).voided_at is None
