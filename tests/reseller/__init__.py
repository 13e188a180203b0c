"""Helpers for the reseller pages' tests (/reseller, and /admin/resellers in tests/admin): a client on a clock
that only moves when told, resellers with the people who sign in for them, and what moved in the ledger."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.ledger import service as ledger
from simkeep.ledger.models import JournalEntry
from simkeep.main import create_app
from simkeep.reseller import service as resellers
from simkeep.reseller.models import Reseller
from simkeep.voucher.models import Voucher, VoucherBatch, VoucherPurchase
from tests.conftest import T0
from tests.factories.staff import Staff, make_staff, sign_in
from tests.factories.vouchers import make_reseller


@dataclass
class Clock:
    """The time every page sees (simkeep.core.clock.now), moved by hand."""

    at: datetime = T0

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@dataclass
class Site:
    db: Database
    settings: Settings
    clock: Clock
    clients: list[TestClient] = field(default_factory=list)

    def client(self, lang: str = "en") -> TestClient:
        """A browser of its own (cookies, session), in `lang`."""
        client = TestClient(create_app(self.settings, self.db), follow_redirects=False,
                            headers={"Accept-Language": lang})
        client.__enter__()
        self.clients.append(client)
        return client

    def reseller(self, code: str = "TABAC-RIVOLI", *, deposit_minor: int = 100_000, discount_bp: int = 500,
                 username: str | None = None) -> tuple[Reseller, Staff]:
        """A reseller with a float of `deposit_minor` and an account of role reseller for it."""
        reseller = make_reseller(self.db, code=code, discount_bp=discount_bp, deposit_minor=deposit_minor,
                                 now=self.clock())
        person = make_staff(self.db, self.settings, username=username or code.lower(), role="reseller",
                            reseller_id=reseller.id, now=self.clock())
        return reseller, person

    def signed_in(self, person: Staff, lang: str = "en") -> TestClient:
        client = self.client(lang)
        sign_in(client, self.db, person, now=self.clock())
        return client

    def staff(self, role: str, lang: str = "en") -> TestClient:
        return self.signed_in(make_staff(self.db, self.settings, username=f"{role}-{len(self.clients)}", role=role,
                                         now=self.clock()), lang)


@pytest.fixture(name="site")
def site_fixture(db, settings, monkeypatch) -> Iterator[Site]:
    """Import `site_fixture` into a test module to use the `site` fixture."""
    clock = Clock()
    monkeypatch.setattr("simkeep.core.clock.now", clock)
    found = Site(db, settings, clock)
    yield found
    for client in found.clients:
        client.__exit__(None, None, None)


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def form_key(page: str) -> str:
    return re.search(r'name="key" value="([^"]+)"', page).group(1)


def text_of(page: str) -> str:
    """The page's words, tags dropped and spaces folded (for exact sentences)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).replace("&#39;", "'").replace("&amp;", "&")


@dataclass(frozen=True)
class Moved:
    """What a money path could have changed: compare before and after."""

    float_minor: int
    entries: int
    purchases: int
    vouchers: int
    batches: int


def moved(db: Database, code: str) -> Moved:
    with db.transaction(write=False) as session:
        reseller = resellers.any_by_code(session, code)
        return Moved(resellers.float_balance(session, reseller).minor,
                     session.scalar(select(func.count()).select_from(JournalEntry)),
                     session.scalar(select(func.count()).select_from(VoucherPurchase)),
                     session.scalar(select(func.count()).select_from(Voucher)),
                     session.scalar(select(func.count()).select_from(VoucherBatch)))


def commission_total(db: Database, currency: str = "EUR") -> int:
    with db.transaction(write=False) as session:
        return ledger.account_balance(session, ledger.system_account_id(ledger.COMMISSION, currency))
