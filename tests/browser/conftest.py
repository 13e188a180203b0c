"""End-to-end fixtures: a real uvicorn server, a worker thread, Debian's Chromium driven by Playwright.

Each test gets a fresh database (tests/conftest.py's `db`), its own server on a free port of 127.0.0.1, a worker
thread that applies webhooks and delivers the outbox every 0.2 s (SMS go to tmp_path/messages.log, sandbox
webhooks go by real signed HTTP to the server), and a fresh browser context with the reader's locale and a phone
viewport. The public URL is http://127.0.0.1:<port>, so session cookies are not Secure (the flag follows the
public URL's scheme), as in the demo on a local network.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import BrowserContext, Page

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.main import create_app
from simkeep.notification.senders import make_sender
from simkeep.notification.tasks import deliver_due
from simkeep.payment.tasks import process_inbox
from tests.conftest import (
    ADMIN_TOKEN,
    ESIM_SEAL_KEY,
    SANDBOX_ROUTES,
    SANDBOX_SECRET,
    TEST_SECRET,
    VOUCHER_PEPPER,
    VOUCHER_SEAL_KEY,
)
from tests.factories.lines import make_line, view
from tests.factories.snapshot import snapshot

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
BROWSER_LOCALE = {"zh_CN": "zh-CN", "fr": "fr-FR", "en": "en-US"}
WEBHOOK_SECRET = SANDBOX_SECRET
MSISDN = "+33612345678"
# What money looks like in the database: the tables a payment may touch, and every cached balance.
MONEY_TABLES = ("journal_entries", "postings", "ledger_accounts", "topups", "receipts", "receipt_counters")
WAIT_MS = 10_000  # Playwright's timeout for one condition; a healthy step takes well under a second


# -- the browser: pytest-playwright's fixtures, pointed at Debian's Chromium ----------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


# -- the server and the worker ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Worker:
    """`simkeep worker` in a thread: apply stored webhooks, deliver the outbox, every 0.2 s until stopped."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.sender = make_sender(settings, db)
        self.errors: list[str] = []
        self.rounds = 0
        self._gate = threading.Lock()  # held during a round; pause() holds it to stop the worker between rounds
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="simkeep-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._gate:
                try:
                    process_inbox(self.db, self.settings)
                    deliver_due(self.db, self.sender)
                except Exception:  # the test fails at teardown, with the traceback
                    self.errors.append(traceback.format_exc())
            with self._changed:
                self.rounds += 1
                self._changed.notify_all()
            self._stop.wait(0.2)

    def wait_rounds(self, n: int, timeout: float = 10.0) -> None:
        """Return once the worker has completed `n` more full rounds (so anything due then has been handled)."""
        with self._changed:
            target = self.rounds + n
            assert self._changed.wait_for(lambda: self.rounds >= target, timeout), "the worker is stuck"

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Nothing is delivered or applied inside the block (the round in progress finishes first)."""
        self._gate.acquire()
        try:
            yield
        finally:
            self._gate.release()


class Messages:
    """The file sender's log: one JSON line per SMS, e-mail or operator event."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self, topic: str | None = None, to: str | None = None) -> list[dict]:
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line.strip()]
        return [r for r in rows if (topic is None or r["topic"] == topic) and (to is None or r["to"] == to)]

    def wait(self, topic: str, to: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        """Poll (bounded) until at least `count` messages of `topic` went to `to`; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.all(topic, to)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} {topic} message(s) to {to} within {timeout} s, got {found}")
            time.sleep(0.05)

    def code(self, msisdn: str, nth: int = 1) -> str:
        """The sign-in code of the nth SMS sent to `msisdn` (waits for it)."""
        return self.wait("otp.code", msisdn, nth)[nth - 1]["payload"]["code"]


class ShiftedClock:
    """simkeep.core.clock.now moved forward by `offset` (the server runs in this process, so it sees it too)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class Portal:
    base: str
    db: Database
    settings: Settings
    worker: Worker
    sms: Messages
    tmp_path: Path
    clock: ShiftedClock

    def url(self, path: str) -> str:
        return self.base + path

    def line(self, msisdn: str = MSISDN, language: str = "fr"):
        return make_line(self.db, msisdn=msisdn, operator_id="fr-orange-mobicarte", language=language,
                         now=datetime.now(UTC))

    def view(self, msisdn: str = MSISDN):
        return view(self.db, msisdn)

    def money(self) -> dict:
        """Row counts of the money tables and every cached balance: equal before and after means nothing moved."""
        snap = snapshot(self.db)
        return {"counts": {t: snap["counts"][t] for t in MONEY_TABLES}, "balances": snap["balances"]}

    def count(self, table: str) -> int:
        return snapshot(self.db)["counts"][table]


@pytest.fixture
def shifted_clock(monkeypatch) -> ShiftedClock:
    clock = ShiftedClock()
    monkeypatch.setattr("simkeep.core.clock.now", clock)
    return clock


@pytest.fixture
def portal_settings() -> dict:
    """Settings a test module changes for its server (override this fixture), e.g. SEPA instead of the sandbox."""
    return {}


@pytest.fixture
def portal(db: Database, tmp_path: Path, shifted_clock: ShiftedClock, portal_settings: dict) -> Iterator[Portal]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(**{"database_url": db.url, "data_dir": tmp_path, "secret_key": TEST_SECRET,
                           "admin_token": ADMIN_TOKEN, "public_url": base, "sandbox_webhook_secret": WEBHOOK_SECRET,
                           "sandbox_enabled": True, "payment_routes": SANDBOX_ROUTES,
                           "voucher_pepper": VOUCHER_PEPPER, "voucher_seal_key": VOUCHER_SEAL_KEY,
                           "esim_seal_key": ESIM_SEAL_KEY, **portal_settings})
    server = uvicorn.Server(uvicorn.Config(create_app(settings, db), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    worker = Worker(db, settings)
    worker.start()
    yield Portal(base=base, db=db, settings=settings, worker=worker, sms=Messages(settings.messages_log),
                 tmp_path=tmp_path, clock=shifted_clock)
    worker.stop()
    server.should_exit = True
    thread.join(timeout=10)
    assert not worker.errors, "the worker failed:\n" + "\n".join(worker.errors)


# -- pages ----------------------------------------------------------------------------------------------------------

@dataclass
class PageProblems:
    """Server errors and script errors seen by a page: any of them fails the test at teardown."""

    server_errors: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(new_context: Callable[..., BrowserContext], portal: Portal) -> Iterator[Callable[..., Page]]:
    """open_page(lang) -> a new page in a fresh context: the reader's locale (Accept-Language), a phone screen."""
    problems = PageProblems()

    def _open(lang: str = "en", *, viewport: dict | None = None, scale: float = 1) -> Page:
        context = new_context(locale=BROWSER_LOCALE[lang], viewport=viewport or PHONE, device_scale_factor=scale,
                              is_mobile=True, has_touch=True, timezone_id="Europe/Paris")
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        page.on("response", lambda r: r.status >= 500 and problems.server_errors.append(
            f"{r.status} {r.request.method} {r.url}"))
        page.on("pageerror", lambda exc: problems.script_errors.append(str(exc)))
        return page

    yield _open
    assert not problems.server_errors, f"server errors: {problems.server_errors}"
    assert not problems.script_errors, f"script errors: {problems.script_errors}"
