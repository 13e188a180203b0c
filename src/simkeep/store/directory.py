"""The store directory: adding and changing stores (the back office, CSV/GeoJSON imports, the demo)."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from simkeep.core.ids import new_id
from simkeep.ledger import service as ledger
from simkeep.store.models import Store


@dataclass(frozen=True)
class StoreFields:
    code: str
    name: str
    address: str
    postcode: str
    city: str
    latitude: float
    longitude: float
    country: str = "FR"
    phone: str | None = None
    timezone: str = "Europe/Paris"
    hours: dict = field(default_factory=dict)
    closed_on: list = field(default_factory=list)
    operators: list = field(default_factory=list)
    languages: list = field(default_factory=list)
    services: list = field(default_factory=lambda: ["renewal"])
    demo: bool = False
    currency: str = "EUR"


def city_key(city: str) -> str:
    """A city folded for search: case, accents and punctuation ignored ("Saint-Étienne" → "saint etienne")."""
    plain = unicodedata.normalize("NFKD", city).encode("ascii", "ignore").decode().casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


def add_store(session: Session, fields: StoreFields, *, now: datetime) -> Store:
    """A new store with its ledger account (what it owes the operator)."""
    store_id = new_id()
    account_id = ledger.open_store_account(session, owner_id=store_id, currency=fields.currency, now=now)
    row = {**asdict(fields), "code": fields.code.strip().upper(), "id": store_id, "city_key": city_key(fields.city),
           "account_id": account_id, "created_at": now, "updated_at": now, "closed_at": None}
    session.execute(insert(Store.__table__), [row])
    return Store(**row)


def by_code(session: Session, code: str) -> Store | None:
    """The store with this code (case and surrounding spaces ignored), closed or not; None if there is none."""
    return session.scalars(select(Store).where(Store.code == code.strip().upper())).first()
