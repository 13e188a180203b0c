"""The Z-report of a drawer: exact figures per payment method, per offer and for voids, over one agent's shift."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simkeep.store import reports
from simkeep.store import service as stores
from simkeep.store.reports import Tally
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller
from tests.factories.vouchers import KEYS, make_reseller, sold_cards

WINDOW = timedelta(minutes=15)
OTHER = "+33698765431"


@pytest.fixture
def shift(db, settings):
    """Li's shift: a 50.00 float; cash 10 + 25 + 10 (one voided), a card 25, a recharge card 10; Marie's cash sale in
    her own drawer and Li's card sale after closing are not in Li's report."""
    make_line(db, now=T0)
    make_line(db, msisdn=OTHER, now=T0)
    make_reseller(db, now=T0)
    [(_, pin)] = sold_cards(db, quantity=1, now=T0)
    store = make_store(db, now=T0)
    li = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    marie = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                     now=T0))
    drawer = open_drawer(db, li, float_minor=5_000, now=T0)
    open_drawer(db, marie, float_minor=1_000, now=T0)
    at = T0 + timedelta(minutes=5)
    sell(db, li, now=at)
    sell(db, li, offer_id="fr-orange-mobicarte-25", msisdn=OTHER, now=at)
    voided = sell(db, li, now=at + timedelta(minutes=1)).outcome()
    sell(db, li, method="card", terminal_ref="AUTH 1", offer_id="fr-orange-mobicarte-25", now=at)
    sell(db, li, method="voucher", offer_id=None, pin=pin, voucher_keys=KEYS, now=at)
    sell(db, marie, now=at)
    with db.transaction() as session:
        stores.void(session, sale_id=voided.id, store_id=store.id, by=marie.actor, reason="wrong number",
                    now=at + timedelta(minutes=3), window=WINDOW)
    return store, li, marie, drawer


def report(db, drawer_id, now):
    with db.transaction(write=False) as session:
        return reports.z_report(session, reports.get_drawer(session, drawer_id, store_id=None), now=now)


def test_the_open_drawer_report_counts_the_shift_so_far(db, shift):
    _, _, _, drawer = shift
    found = report(db, drawer.id, T0 + timedelta(hours=1))
    assert found.is_open and found.agent == "li" and found.until == T0 + timedelta(hours=1)
    assert found.methods == {"cash": Tally(2, 3_500), "card": Tally(1, 2_500), "voucher": Tally(1, 1_000)}
    assert found.offers == [("fr-orange-mobicarte-10", Tally(2, 2_000)), ("fr-orange-mobicarte-25", Tally(2, 5_000))]
    assert found.sales == Tally(4, 7_000)
    assert found.commission_minor == 30 + 75 + 75  # cash 10, cash 25, card 25; a recharge card earns none
    assert (found.cash_sales_minor, found.expected_minor) == (3_500, 8_500)
    [void] = found.voids
    assert (void.method, void.amount_minor, void.offer_id, void.by, void.reason, void.msisdn) == (
        "cash", 1_000, "fr-orange-mobicarte-10", "staff:marie", "wrong number", "+336******78")
    assert found.void_tally == Tally(1, 1_000)


def test_the_closed_drawer_report_has_the_count_and_stops_at_closing(db, shift):
    store, li, _, drawer = shift
    closed_at = T0 + timedelta(hours=8)
    with db.transaction() as session:
        stores.close_drawer(session, drawer_id=drawer.id, store_id=store.id, counted_minor=8_450, by=li.actor,
                            now=closed_at)
    sell(db, li, method="card", terminal_ref="AUTH 2", now=closed_at + timedelta(minutes=1))
    found = report(db, drawer.id, closed_at + timedelta(hours=2))
    assert not found.is_open and found.until == closed_at
    assert found.methods["card"] == Tally(1, 2_500)
    d = found.drawer
    assert (d.opening_float_minor, found.expected_minor, d.counted_minor, d.difference_minor, d.closed_by) == (
        5_000, 8_500, 8_450, -50, "staff:li")


def test_another_stores_drawer_is_refused(db, settings, shift):
    _, _, _, drawer = shift
    from tests.factories.stores import BELLEVILLE
    other = make_store(db, now=T0, fields=BELLEVILLE, code="LYON-1", name="Lyon")
    with db.transaction(write=False) as session, pytest.raises(stores.OtherStore):
        reports.get_drawer(session, drawer.id, store_id=other.id)
