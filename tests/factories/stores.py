"""Stores, their people and counter sales made through the services, each in its own committed transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from itertools import count

from simkeep.db import Database
from simkeep.store import directory
from simkeep.store import service as stores
from simkeep.store.directory import StoreFields
from simkeep.store.models import Drawer, Store
from simkeep.store.service import Commission, SaleOutcome, Seller

OPEN_WEEK = {day: [["09:00", "19:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
BELLEVILLE = StoreFields(code="PAR-BELLEVILLE", name="Tabac de Belleville", address="12 rue de Belleville",
                         postcode="75020", city="Paris", latitude=48.8722, longitude=2.3766, phone="+33143580000",
                         hours=OPEN_WEEK, operators=["fr-orange-mobicarte"], languages=["zh_CN", "fr"],
                         services=["renewal", "voucher_sale"])
COMMISSION = Commission(percent=Decimal("3"))
_keys = count(1)


def make_store(db: Database, *, now: datetime, fields: StoreFields = BELLEVILLE, **changes) -> Store:
    with db.transaction() as session:
        return directory.add_store(session, replace(fields, **changes), now=now)


def seller(store: Store, staff) -> Seller:
    """`staff` is a tests.factories.staff.Staff made with store_id=store.id."""
    return Seller(agent_id=staff.id, actor=f"staff:{staff.username}", store_id=store.id)


def open_drawer(db: Database, who: Seller, *, float_minor: int = 5_000, now: datetime) -> Drawer:
    with db.transaction() as session:
        return stores.open_drawer(session, seller=who, float_minor=float_minor, now=now)


def sell(db: Database, who: Seller, *, msisdn: str = "+33612345678", offer_id: str | None = "fr-orange-mobicarte-10",
         method: str = "cash", key: str | None = None, now: datetime, **more) -> SaleOutcome:
    with db.transaction() as session:
        return stores.sell(session, seller=who, msisdn=msisdn, offer_id=offer_id, method=method,
                           idempotency_key=key or f"sale-{next(_keys)}", commission=COMMISSION,
                           receipt_url=lambda receipt_id: f"http://test/receipts/{receipt_id}", language="fr",
                           now=now, **more)
