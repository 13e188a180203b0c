"""A store's monthly settlement in its own time zone: every line exact, the lines add up to the ledger's movement,
remittances once per reference, the ledger still verifies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.ledger.models import JournalEntry
from simkeep.store import service as stores
from simkeep.store import settlement
from simkeep.store.settlement import Remittance, Tally
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller
from tests.factories.vouchers import KEYS, make_reseller, sold_cards

APRIL = date(2027, 4, 1)
START = datetime(2027, 3, 31, 22, 0, tzinfo=UTC)  # 1 April 00:00 in Paris (summer time since 28 March)
END = datetime(2027, 4, 30, 22, 0, tzinfo=UTC)  # 1 May 00:00 in Paris
WINDOW = timedelta(minutes=15)


def test_a_month_is_cut_at_midnight_in_the_stores_zone():
    assert settlement.month_bounds(APRIL, "Europe/Paris") == (START, END)
    assert settlement.month_bounds(date(2027, 3, 1), "Europe/Paris") == (
        datetime(2027, 2, 28, 23, 0, tzinfo=UTC), START)
    assert settlement.month_bounds(date(2027, 12, 1), "Europe/Paris") == (
        datetime(2027, 11, 30, 23, 0, tzinfo=UTC), datetime(2027, 12, 31, 23, 0, tzinfo=UTC))
    assert settlement.parse_month("2026-11", default=APRIL) == date(2026, 11, 1)
    assert settlement.parse_month(None, default=date(2027, 4, 17)) == APRIL
    for bad in ("2026-13", "26-11", "2026-1", "x"):
        with pytest.raises(settlement.MonthInvalid):
            settlement.parse_month(bad, default=APRIL)


@pytest.fixture
def april(db, settings):
    """April 2027 at PAR-BELLEVILLE, with a March sale before it and a May sale after it."""
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    [(_, pin)] = sold_cards(db, quantity=1, now=T0)
    store = make_store(db, now=T0)
    li = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    marie = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                     now=T0))
    open_drawer(db, li, float_minor=5_000, now=START - timedelta(hours=1))
    sell(db, li, now=START - timedelta(minutes=1))  # 31 March 23:59 in Paris: March
    sell(db, li, offer_id="fr-orange-mobicarte-25", now=START)  # 1 April 00:00: April
    mid = datetime(2027, 4, 10, 10, 0, tzinfo=UTC)
    sell(db, li, method="card", terminal_ref="AUTH 77", offer_id="fr-orange-mobicarte-25", now=mid)
    sell(db, li, method="voucher", offer_id=None, pin=pin, voucher_keys=KEYS, now=mid)
    wrong = sell(db, li, now=mid).outcome()
    with db.transaction() as session:
        stores.void(session, sale_id=wrong.id, store_id=store.id, by=marie.actor, reason="wrong offer",
                    now=mid + timedelta(minutes=5), window=WINDOW)
        drawer = stores.open_drawer_of(session, li.agent_id)
        closed = stores.close_drawer(session, drawer_id=drawer.id, store_id=store.id, counted_minor=8_480,
                                     by=li.actor, now=mid + timedelta(hours=8))
    assert (closed.expected_minor, closed.difference_minor) == (8_500, -20)
    with db.transaction() as session:
        settlement.record_remittance(session, store=store, amount=Money(3_000, "EUR"), reference="VIR-2027-04",
                                     actor="staff:finance", reason="bank deposit slip",
                                     now=datetime(2027, 4, 20, 9, 0, tzinfo=UTC))
    open_drawer(db, li, float_minor=0, now=END - timedelta(hours=2))
    sell(db, li, now=END - timedelta(seconds=1))  # 30 April 23:59:59 in Paris: April
    sell(db, li, now=END)  # 1 May 00:00: May
    return store


def of(db, store, month=APRIL):
    with db.transaction(write=False) as session:
        return settlement.settlement(session, session.get(type(store), store.id), month=month)


def test_every_line_of_the_month_is_exact_and_balances_against_the_ledger(db, april):
    found = of(db, april)
    assert (found.since, found.until) == (START, END)
    assert found.opening_minor == 970  # March's cash sale, less its 3 % commission
    assert found.cash_sales == Tally(3, 4_500)  # 25.00 at midnight, 10.00 voided, 10.00 on the last second
    assert found.card_sales == Tally(1, 2_500)
    assert found.voucher_sales == Tally(1, 1_000)
    assert found.commission_minor == 75 + 75 + 30 + 30  # a recharge card earns none
    assert (found.voids, found.voids_net_minor) == (Tally(1, 1_000), 970)
    assert found.over_short_minor == -20
    assert found.remittances == [Remittance(datetime(2027, 4, 20, 9, 0, tzinfo=UTC), "VIR-2027-04", 3_000)]
    assert found.closing_minor == 970 + 4_500 - 210 - 970 - 20 - 3_000 == 1_270
    assert found.ledger_movement_minor == 300 and found.computed_closing_minor == 1_270
    assert found.balances
    with db.transaction(write=False) as session:
        assert -ledger.account_balance(session, april.account_id) == 1_270 + 970  # and May's sale
        assert ledger.account_balance(session, ledger.clearing_account_id("EUR", ledger.STORE_REMITTANCE)) == -3_000
        assert ledger.verify(session).ok
    may = of(db, april, date(2027, 5, 1))
    assert (may.opening_minor, may.cash_sales, may.closing_minor, may.balances) == (1_270, Tally(1, 1_000), 2_240,
                                                                                     True)


def test_the_csv_has_every_line(db, april):
    assert settlement.csv_bytes(of(db, april)).decode().splitlines() == [
        "store,month,line,count,amount,currency",
        "PAR-BELLEVILLE,2027-04,opening,,9.70,EUR",
        "PAR-BELLEVILLE,2027-04,cash_sales,3,45.00,EUR",
        "PAR-BELLEVILLE,2027-04,card_sales,1,25.00,EUR",
        "PAR-BELLEVILLE,2027-04,voucher_sales,1,10.00,EUR",
        "PAR-BELLEVILLE,2027-04,commission,,2.10,EUR",
        "PAR-BELLEVILLE,2027-04,voids,1,10.00,EUR",
        "PAR-BELLEVILLE,2027-04,voids_net,,9.70,EUR",
        "PAR-BELLEVILLE,2027-04,over_short,,-0.20,EUR",
        "PAR-BELLEVILLE,2027-04,remittance,VIR-2027-04,30.00,EUR",
        "PAR-BELLEVILLE,2027-04,remitted,1,30.00,EUR",
        "PAR-BELLEVILLE,2027-04,closing,,12.70,EUR",
        "PAR-BELLEVILLE,2027-04,balances_with_ledger,,yes,EUR",
    ]


def entries(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(JournalEntry))


def test_a_remittance_is_recorded_once_per_reference_and_bad_ones_move_nothing(db, april):
    before = (entries(db), of(db, april).closing_minor)
    at = datetime(2027, 4, 21, 9, 0, tzinfo=UTC)
    attempts = [(settlement.RemittanceRecorded, dict(amount=Money(3_000, "EUR"), reference=" VIR-2027-04 ")),
                (settlement.RemittanceInvalid, dict(amount=Money(0, "EUR"), reference="VIR-2")),
                (settlement.RemittanceInvalid, dict(amount=Money(-5, "EUR"), reference="VIR-2")),
                (settlement.RemittanceInvalid, dict(amount=Money(100, "USD"), reference="VIR-2")),
                (settlement.RemittanceInvalid, dict(amount=Money(100, "EUR"), reference="  ")),
                (settlement.RemittanceInvalid, dict(amount=Money(100, "EUR"), reference="x" * 81))]
    for error, fields in attempts:
        with db.transaction() as session, pytest.raises(error):
            settlement.record_remittance(session, store=april, actor="staff:finance", reason="again", now=at,
                                         **fields)
    with db.transaction() as session, pytest.raises(settlement.RemittanceInvalid):
        settlement.record_remittance(session, store=april, amount=Money(100, "EUR"), reference="VIR-3",
                                     actor="staff:finance", reason=" ", now=at)
    assert (entries(db), of(db, april).closing_minor) == before


def test_the_same_remittance_raced_is_recorded_once(db, settings):
    from tests.web import ledger_ok, race

    store = make_store(db, now=T0)

    def remit(i: int):
        try:
            with db.transaction() as session:
                return settlement.record_remittance(session, store=store, amount=Money(1_000 + i, "EUR"),
                                                    reference="DEP-RACE", actor="staff:finance", reason=f"try {i}",
                                                    now=T0)
        except settlement.RemittanceRecorded:
            return "remittance_recorded"

    results = race(8, remit)
    assert results.count("remittance_recorded") == 7
    [won] = [i for i, r in enumerate(results) if r != "remittance_recorded"]
    with db.transaction(write=False) as session:
        assert ledger.account_balance(session, store.account_id) == 1_000 + won
    assert ledger_ok(db)
