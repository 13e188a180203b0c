"""The demo directory: 25 stores, all marked demo, seeded twice without change."""

from __future__ import annotations

from sqlalchemy import func, select

from simkeep.demo import seed_demo_stores
from simkeep.store import directory, hours
from simkeep.store.models import Store
from tests.conftest import T0


def test_demo_stores_are_seeded_once_and_marked_demo(db):
    assert seed_demo_stores(db) == 25
    assert seed_demo_stores(db) == 25
    with db.transaction(write=False) as session:
        stores = list(session.scalars(select(Store)))
        assert len(stores) == 25 and all(s.demo for s in stores)
        assert sum("zh_CN" in s.languages for s in stores) == 14
        assert sorted({s.city for s in stores}) == ["Aubervilliers", "Bordeaux", "Lille", "Lyon", "Marseille", "Nice",
                                                    "Paris", "Strasbourg", "Toulouse"]
        late = directory.get(session, "DEMO-PAR-BELLEVILLE-NUIT")
        # Saturday 2027-03-06 03:30 in Paris: Friday night's 18:00-04:00 is still on.
        now = T0.replace(day=6, hour=2, minute=30)
        assert hours.of_store(late, now).open is True
        assert session.scalar(select(func.count()).select_from(Store).where(Store.closed_at.is_not(None))) == 0
