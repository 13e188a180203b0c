"""Helpers shared by the HTTP API tests (tests/web, tests/line, tests/topup, tests/charge)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

import httpx

from simkeep.db import Database
from simkeep.ledger import service as ledger
from tests.conftest import ADMIN_TOKEN, T0
from tests.factories.lines import view

T = TypeVar("T")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class FrozenClock:
    """Stands in for simkeep.core.clock.now, so the API's instants are exact; move it with `at`."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += timedelta(**delta)


def freeze_clock(monkeypatch, at: datetime = T0) -> FrozenClock:
    clock = FrozenClock(at)
    monkeypatch.setattr("simkeep.core.clock.now", clock)
    return clock


def error(response: httpx.Response) -> tuple[int, str]:
    """(status, error code) of a JSON error response."""
    return response.status_code, response.json()["error"]["code"]


def money(minor: int, currency: str = "EUR") -> dict:
    return {"amount_minor": minor, "currency": currency}


def balances(db: Database, msisdn: str = "+33612345678") -> tuple[int, int]:
    """(credit, bonus) of the number's current line, in minor units."""
    state = view(db, msisdn)
    return state.credit.minor, state.bonus.minor


def rows_added(before: dict, after: dict) -> dict[str, int]:
    """Tables whose row count changed between two snapshots, with the change."""
    return {name: after["counts"][name] - n for name, n in before["counts"].items() if after["counts"][name] != n}


def ledger_ok(db: Database) -> bool:
    with db.transaction(write=False) as session:
        report = ledger.verify(session)
    assert report.problems == []
    return report.ok


def race(n: int, call: Callable[[int], T]) -> list[T]:
    """Run call(0..n-1) on n threads released together by a barrier; results in index order."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait(timeout=30)
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def flatten(routes):
    """Every route of the app, through included routers (FastAPI keeps them as branches)."""
    for route in routes:
        if hasattr(route, "original_router"):
            assert not route.include_context.prefix, "the walk assumes routers carry their own prefix"
            yield from flatten(route.original_router.routes)
        else:
            yield route
