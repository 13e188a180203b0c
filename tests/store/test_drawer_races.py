"""Drawers and voids raced on threads, each its own transaction (DESIGN §7's checklist): a close against the
sales going into the drawer, two closes, two opens, two voids. Exact results on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simkeep.ledger import service as ledger
from simkeep.store import service as stores
from simkeep.store.models import Drawer
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller
from tests.web import ledger_ok, race

N = 24
LATER = T0 + timedelta(minutes=5)


@pytest.fixture
def shop(db, settings):
    make_line(db, now=T0)
    store = make_store(db, now=T0)
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    manager = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                       now=T0))
    return store, agent, manager


def outcome(call):
    try:
        return call()
    except stores.DrawerNotOpen:
        return "drawer_not_open"
    except stores.DrawerAlreadyClosed:
        return "drawer_already_closed"
    except stores.DrawerAlreadyOpen:
        return "drawer_already_open"
    except stores.SaleAlreadyVoided:
        return "sale_already_voided"


def close(db, drawer_id, store, counted: int):
    with db.transaction() as session:
        return stores.close_drawer(session, drawer_id=drawer_id, store_id=store.id, counted_minor=counted,
                                   by="staff:marie", now=LATER)


def test_a_close_racing_the_sales_counts_exactly_the_sales_that_went_in(db, shop):
    store, agent, _ = shop
    drawer = open_drawer(db, agent, float_minor=5_000, now=T0)

    def act(i: int):
        if i == N // 2:
            return outcome(lambda: close(db, drawer.id, store, counted=0))
        return outcome(lambda: sell(db, agent, key=f"s{i}", now=LATER).outcome())

    results = race(N, act)
    closed = results[N // 2]
    sold = [r for i, r in enumerate(results) if i != N // 2 and not isinstance(r, str)]
    refused = [r for i, r in enumerate(results) if i != N // 2 and isinstance(r, str)]
    assert set(refused) <= {"drawer_not_open"} and len(sold) + len(refused) == N - 1
    # The close saw exactly the sales committed before it; the rest found the drawer closed and moved nothing.
    assert closed.expected_minor == 5_000 + 1_000 * len(sold)
    assert closed.difference_minor == -closed.expected_minor
    assert view(db).balance.minor == 1_000 * len(sold)
    with db.transaction(write=False) as session:
        owed = ledger.account_balance(session, store.account_id)
    assert owed == -970 * len(sold) + closed.expected_minor
    assert ledger_ok(db)


def test_two_closes_of_one_drawer_post_one_difference(db, shop):
    store, agent, _ = shop
    drawer = open_drawer(db, agent, float_minor=5_000, now=T0)
    sell(db, agent, now=T0)
    results = race(8, lambda i: outcome(lambda: close(db, drawer.id, store, counted=5_900 + i)))
    won = [r for r in results if isinstance(r, Drawer)]
    assert len(won) == 1 and results.count("drawer_already_closed") == 7
    with db.transaction(write=False) as session:
        assert ledger.account_balance(session, ledger.system_account_id(ledger.CASH_OVER_SHORT, "EUR")) == \
            won[0].difference_minor == won[0].counted_minor - 6_000
    assert ledger_ok(db)


def test_a_double_click_opens_one_drawer(db, shop):
    _, agent, _ = shop
    results = race(8, lambda i: outcome(lambda: open_drawer(db, agent, float_minor=1_000 * i, now=T0)))
    assert sum(isinstance(r, Drawer) for r in results) == 1 and results.count("drawer_already_open") == 7


def test_two_managers_voiding_one_sale_void_it_once(db, shop):
    store, agent, manager = shop
    open_drawer(db, agent, now=T0)
    sale = sell(db, agent, offer_id="fr-orange-mobicarte-25", now=T0).outcome()

    def void(i: int):
        with db.transaction() as session:
            return stores.void(session, sale_id=sale.id, store_id=store.id, by=manager.actor, reason=f"twice {i}",
                               now=LATER, window=timedelta(minutes=15))

    results = race(8, lambda i: outcome(lambda: void(i)))
    assert results.count("sale_already_voided") == 7
    assert view(db).balance.minor == 0
    with db.transaction(write=False) as session:
        assert ledger.account_balance(session, store.account_id) == 0
    assert ledger_ok(db)
