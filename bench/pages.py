"""Portal latency: the status page and a wizard step at 32 concurrent signed-in users, on the embedded default.

Each user is a real browser session (cookie, CSRF token, SMS code read back from the outbox). The raw baseline
is /healthz under the same concurrency in the same run: the cost of the HTTP stack (since issue 16 /healthz reads no
database; /readyz does), so `*_ratio` says how much the page itself adds.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from bench.common import Sizes, note, report, server
from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.migrate import upgrade
from simkeep.notification.models import OutboxMessage

USERS = 32
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def bench_pages(sizes: Sizes) -> None:
    with tempfile.TemporaryDirectory(prefix="simkeep-pages-") as tmp:
        db = _prepare(Path(tmp))
        env = {"SIMKEEP_DATA_DIR": tmp, "SIMKEEP_COOKIE_SECURE": "false",
               "SIMKEEP_CODE_REQUESTS_PER_IP": "1000 per hour", "SIMKEEP_CODE_CHECKS_PER_IP": "1000 per hour"}
        with server(workers=1, env=env, log_name="pages") as base:
            asyncio.run(_measure(base, db, seconds=sizes.run_seconds))
        db.dispose()


def _prepare(tmp: Path) -> Database:
    url = f"sqlite:///{tmp / 'simkeep.db'}"
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=clock.now())
        for n in range(USERS):
            lines.create_line(session, msisdn=_msisdn(n), operator_id="fr-orange-mobicarte", language="fr",
                              now=clock.now())
    return db


def _msisdn(n: int) -> str:
    return f"+336{20000000 + n}"


async def _measure(base: str, db: Database, *, seconds: int) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    users = [httpx.AsyncClient(base_url=base, limits=limits, timeout=30) for _ in range(USERS)]
    try:
        for n, client in enumerate(users):  # one after the other: codes are read back from the outbox
            await _sign_in_and_fill_wizard(client, db, _msisdn(n))
        note(f"pages: {USERS} users signed in, wizard at the summary step")
        for name, path in (("healthz", "/healthz"), ("status_page", "/lines"), ("wizard_step", "/recharge/summary")):
            await _load(users, path, 1)  # warm-up
            latencies, errors = await _load(users, path, seconds)
            p50, p95 = _percentile(latencies, 50), _percentile(latencies, 95)
            report(f"{name}_p50", p50, "ms")
            report(f"{name}_p95", p95, "ms")
            report(f"{name}_rps", round(len(latencies) / seconds), "req/s")
            if errors:
                report(f"{name}_errors", errors, "count")
            if name == "healthz":
                floor = p50
            else:
                report(f"{name}_ratio", round(p50 / floor, 2), "x healthz p50")
    finally:
        await asyncio.gather(*(client.aclose() for client in users))


async def _sign_in_and_fill_wizard(client: httpx.AsyncClient, db: Database, msisdn: str) -> None:
    token = CSRF.search((await client.get("/signin")).text).group(1)
    await client.post("/signin", data={"msisdn": msisdn, "next": "/lines", "csrf_token": token})
    code = _latest_code(db, msisdn)
    answer = await client.post("/signin/code", data={"code": code, "next": "/lines", "csrf_token": token})
    assert answer.headers.get("location") == "/lines", f"sign-in failed for {msisdn}"
    await client.get("/recharge", params={"msisdn": msisdn})
    await client.post("/recharge/offer", data={"offer": "fr-orange-mobicarte-5", "csrf_token": token})
    await client.post("/recharge/method", data={"method": "card", "csrf_token": token})
    summary = await client.get("/recharge/summary")
    assert summary.status_code == 200 and "checkout_key" in summary.text, "wizard did not reach the summary"


def _latest_code(db: Database, msisdn: str) -> str:
    with db.transaction(write=False) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == msisdn,
                                                              OutboxMessage.topic == "otp.code")
                                  .order_by(OutboxMessage.created_at.desc())).first()
    return message.payload["code"]


async def _load(users: list[httpx.AsyncClient], path: str, seconds: float) -> tuple[list[float], int]:
    """Every user requests `path` back to back until the time is up; returns latencies in ms and errors."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = 0

    async def user(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200

    await asyncio.gather(*(user(client) for client in users))
    return latencies, errors


def _percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))], 1)
