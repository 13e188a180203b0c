"""Counter sales raced as the console sends them (admin/counter.py: the ID check required, then store.service.sell
inside db.write, which retries once on a UNIQUE race, then .outcome() after the commit), on threads with a database
session each. Meant for PostgreSQL (SIMKEEP_TEST_DATABASE_URL), where the transactions really overlap; SQLite
runs them too, one writer at a time.

- Two agents selling on the same line at the same moment: both sales land, the line gets exactly both prices, each
  agent's drawer its own cash, the ledger balances. (Each sale locks its agent's drawer, then the line: the second
  waits for the first and extends the validity the first bought.)
- One agent's form sent several times at once (a double tap, a retry): one sale, every answer is that sale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from simkeep.store import console
from simkeep.store import service as stores
from simkeep.store.models import StoreSale
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.snapshot import snapshot
from tests.factories.staff import make_staff
from tests.factories.stores import COMMISSION, make_store, open_drawer, seller
from tests.web import ledger_ok, race, rows_added

MSISDN = "+33612345678"


@pytest.fixture
def counter(db, settings):
    line = make_line(db, now=T0)
    store = make_store(db, now=T0)
    agents = [seller(store, make_staff(db, settings, username=name, role="agent", store_id=store.id, now=T0))
              for name in ("li", "wang")]
    for agent in agents:
        open_drawer(db, agent, float_minor=5_000, now=T0)
    with db.transaction() as session:
        console.record_id_check(session, store_id=store.id, line=line, document_type="passport",
                                issuing_country="CN", last4="1234", checked_by=agents[0].actor, now=T0)
    return store, agents


def counter_sale(db, who: stores.Seller, key: str, offer_id: str = "fr-orange-mobicarte-10") -> StoreSale:
    """What POST /counter/lines/{msisdn}/sale does."""
    now = T0 + timedelta(minutes=1)

    def work(session):
        console.require_id_check(session, store_id=who.store_id, msisdn=MSISDN, now=now)
        return stores.sell(session, seller=who, msisdn=MSISDN, offer_id=offer_id, method="cash",
                           idempotency_key=f"counter:{key}", commission=COMMISSION,
                           receipt_url=lambda receipt_id: f"http://test/receipts/{receipt_id}", language="zh_CN",
                           now=now)

    return db.write(work).outcome()


def drawer_cash(db, who: stores.Seller) -> int:
    with db.transaction(write=False) as session:
        return stores.expected_cash(session, stores.open_drawer_of(session, who.agent_id))


def test_two_agents_selling_on_one_line_at_once_both_land(db, counter):
    _, (li, wang) = counter
    before = snapshot(db)
    start = view(db)
    sales = race(2, lambda i: counter_sale(db, (li, wang)[i], key=f"form-{i}",
                                           offer_id=("fr-orange-mobicarte-10", "fr-orange-mobicarte-15")[i]))
    assert len({s.id for s in sales}) == 2
    after = view(db)
    assert after.balance.minor == start.balance.minor + 1000 + 1500
    # 31 March, then 14 and 30 days more in either order: valid to the end of 14 May.
    assert after.line.validity_ends_at == datetime(2027, 5, 14, 22, 0, tzinfo=UTC)
    assert (drawer_cash(db, li), drawer_cash(db, wang)) == (6_000, 6_500)
    assert rows_added(before, snapshot(db))["store_sales"] == 2
    assert ledger_ok(db)


@pytest.mark.parametrize("times", [2, 8])
def test_one_form_sent_several_times_at_once_sells_once(db, counter, times):
    _, (li, _) = counter
    start = view(db)
    sales = race(times, lambda i: counter_sale(db, li, key="one-form"))
    assert len({s.id for s in sales}) == 1
    assert view(db).balance.minor == start.balance.minor + 1000
    assert drawer_cash(db, li) == 6_000
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(StoreSale)) == 1
        assert session.scalar(select(func.count()).select_from(TopUp)) == 1
    assert ledger_ok(db)
