"""What the voice menu's HTTP mode costs an IVR platform's turn (SQLite, `simkeep serve` on 127.0.0.1): a balance
enquiry as four signed JSON webhooks (new call, "3" for English, "1" for the balance, hang-up), each verified,
claimed in voice_http_turns and answered by the real menu, one call after the other (the latency a caller waits
between a key and the next prompt) and by 8 platforms' calls at once (throughput); then the same walk as VoiceXML
documents. The raw baseline, measured in the same run: the same four turns asked of the menu directly, in-process,
with no HTTP, no signature and no replay record."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import Sizes, report, server
from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.signing import sign
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.migrate import upgrade
from simkeep.topup import service as topups
from simkeep.voice import flow
from simkeep.voice.menu import Menu

OPERATOR, OFFER = "fr-orange-mobicarte", "fr-orange-mobicarte-10"
LINES = 100
SECRET = "whsec_bench_voice_0123456789abcdef0123456789"
VXML_KEY = "bench-vxml-key-0123456789abcdef0123456789"
PLATFORMS = 8  # calls in flight at once


def bench_voice_http(sizes: Sizes) -> None:
    calls = 100 if sizes.label == "quick" else 1000
    with tempfile.TemporaryDirectory(prefix="simkeep-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'simkeep.db'}"
        db = _prepare(url)
        env = {"SIMKEEP_DATABASE_URL": url, "SIMKEEP_DATA_DIR": tmp, "SIMKEEP_VOICE_PLATFORM_SECRET": SECRET,
               "SIMKEEP_VOICE_VXML_KEY": VXML_KEY}
        with server(workers=1, env=env, log_name="voice_http") as base, httpx.Client(base_url=base) as client:
            latencies: list[float] = []
            one_by_one = _timed(calls, lambda i: _json_call(client, f"seq-{i}", i, latencies))
            with ThreadPoolExecutor(PLATFORMS) as pool:
                started = time.perf_counter()
                list(pool.map(lambda i: _json_call(client, f"par-{i}", i, []), range(calls)))
                together = time.perf_counter() - started
            over_vxml = _timed(calls, lambda i: _vxml_call(client, i))
        menu = Menu(db, Settings(database_url=url, secret_key="bench-secret-0123456789abcdef0123456789ab"))
        raw = _timed(calls, lambda i: _direct_call(menu, i))
        db.dispose()
    turns = 4 * calls
    report("voice_http_json_turn_p50_ms", statistics.median(latencies) * 1000, "ms")
    report("voice_http_json_turn_p95_ms", statistics.quantiles(latencies, n=20)[18] * 1000, "ms")
    report("voice_http_json_turns_sqlite", round(turns / one_by_one), "turns/s")
    report(f"voice_http_json_turns_{PLATFORMS}_calls_sqlite", round(turns / together), "turns/s")
    report("voice_http_vxml_turns_sqlite", round(turns / over_vxml), "turns/s")
    report("voice_menu_direct_turns_sqlite", round(turns / raw), "turns/s")
    report("voice_http_json_ratio", round(one_by_one / raw, 2), "x")


def _prepare(url: str) -> Database:
    upgrade(url)
    db, now = Database(url), clock.now()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        for i in range(LINES):
            lines.create_line(session, msisdn=_msisdn(i), operator_id=OPERATOR, now=now)
            topups.top_up(session, principal="bench", idempotency_key=f"t{i}", msisdn=_msisdn(i), offer_id=OFFER,
                          channel="api", now=now)
    return db


def _signed(client: httpx.Client, path: str, body: dict, latencies: list[float]) -> None:
    raw = json.dumps(body).encode()
    started = time.perf_counter()
    answer = client.post(path, content=raw, headers={
        "content-type": "application/json", "Simkeep-Signature": sign(SECRET, raw, int(time.time()))})
    latencies.append(time.perf_counter() - started)
    answer.raise_for_status()


def _json_call(client: httpx.Client, call_id: str, i: int, latencies: list[float]) -> None:
    _signed(client, "/api/v1/voice/calls", {"call_id": call_id, "caller": _msisdn(i % LINES), "called": "3900"},
            latencies)
    for turn, (event, digits) in enumerate((("digits", "3"), ("digits", "1"), ("hangup", "")), start=1):
        _signed(client, f"/api/v1/voice/calls/{call_id}/events", {"turn": turn, "event": event, "digits": digits},
                latencies)


def _vxml_call(client: httpx.Client, i: int) -> None:
    answer = client.post(f"/voice/vxml/start?key={VXML_KEY}",
                         data={"call_id": f"vxml-{i}", "caller": _msisdn(i % LINES), "called": "3900"})
    for event, digits in (("digits", "3"), ("digits", "1"), ("hangup", "")):
        answer.raise_for_status()
        token = answer.text.split("token=", 1)[1].split("&", 1)[0]
        answer = client.post(f"/voice/vxml/next?token={token}&event={event}", data={"digits": digits})
    answer.raise_for_status()


def _direct_call(menu: Menu, i: int) -> None:
    call_id = f"direct-{i}"
    menu.start(flow.Call(call_id, _msisdn(i % LINES), "3900", flow.HTTP))
    for event in (flow.Digits("3"), flow.Digits("1"), flow.HungUp()):
        menu.handle(call_id, event)


def _timed(n: int, work) -> float:
    started = time.perf_counter()
    for i in range(n):
        work(i)
    return time.perf_counter() - started


def _msisdn(i: int) -> str:
    return f"+336{10_000_000 + i:08d}"
