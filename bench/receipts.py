"""Receipt PDFs: rendering the 80 mm roll (laid out twice: once to measure, once at its height) against the A4 sheet,
and serving a stored copy.

In process, on the embedded default (SQLite), one receipt of a counter-style sale. The raw baseline of a stored serve
is one SELECT of the stored bytes by primary key through sqlite3: `stored_serve_ratio` says what the app's path
(a read transaction through SQLAlchemy, the freshness check) adds to it. `http_stored_*` is the whole request
through the ASGI app in process (signed link checked, receipt, operator and offer loaded, stored bytes sent).
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from bench.common import Sizes, note, report
from simkeep.catalog import service as catalog
from simkeep.config import Settings, with_demo_secrets
from simkeep.core import clock
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.main import create_app
from simkeep.migrate import upgrade
from simkeep.receipt import pdf
from simkeep.receipt import service as receipts
from simkeep.topup import service as topups

ISSUER = receipts.Issuer(store="Tabac de Belleville", address="12 rue de Belleville, 75020 Paris", agent="li")


def bench_receipts(sizes: Sizes) -> None:
    renders = 5 if sizes.label == "quick" else 15
    serves = 200 if sizes.label == "quick" else 1_000
    with tempfile.TemporaryDirectory(prefix="simkeep-receipts-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'simkeep.db'}"
        db, receipt, operator, offer = _prepare(url)
        verify_url = f"http://127.0.0.1:8000/receipts/{receipt.id.hex}"
        for layout in receipts.LAYOUTS:
            def render(layout: str = layout) -> None:
                pdf.render_pdf(receipt, operator, validity_days=offer.validity_days, verify_url=verify_url,
                               language=receipt.language, layout=layout)
            render()  # warm-up: fonts, templates
            report(f"receipt_render_{layout}_p50", _p50(render, renders), "ms")
        note("receipts: renders measured; storing both layouts")
        for layout in receipts.LAYOUTS:
            pdf.stored_or_render(db, receipt, operator, validity_days=offer.validity_days, verify_url=verify_url,
                                 layout=layout)

        def stored() -> None:
            pdf.stored_or_render(db, receipt, operator, validity_days=offer.validity_days, verify_url=verify_url,
                                 layout=receipts.THERMAL)

        raw = sqlite3.connect(Path(tmp) / "simkeep.db")

        def raw_read() -> None:
            raw.execute("SELECT content FROM receipt_pdfs WHERE receipt_id = ? AND layout = ?",
                        (receipt.id.hex, receipts.THERMAL)).fetchone()

        floor = _p50(raw_read, serves)
        served = _p50(stored, serves)
        report("receipt_raw_read_p50", floor, "ms")
        report("receipt_stored_serve_p50", served, "ms")
        report("receipt_stored_serve_ratio", round(served / floor, 1), "x raw read p50")
        raw.close()
        settings = with_demo_secrets(Settings(data_dir=Path(tmp), database_url=url, env="demo"))
        path = receipts.reprint_url(settings.key("receipt"), receipt.id)
        with TestClient(create_app(settings, db)) as client:
            client.get(path)  # this app's link differs from the one stored above: rendered once here

            def http() -> None:
                response = client.get(path)
                assert response.status_code == 200 and response.content.startswith(b"%PDF")

            report("receipt_http_stored_thermal_p50", _p50(http, serves // 4), "ms")
        db.dispose()


def _prepare(url: str):
    upgrade(url)
    db = Database(url)
    now = clock.now()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        line = lines.create_line(session, msisdn="+33612345678", operator_id="fr-orange-mobicarte", language="fr",
                                 now=now)
    with db.transaction() as session:
        topup = topups.top_up(session, principal="bench", idempotency_key="bench-receipt", msisdn=line.msisdn,
                              offer_id="fr-orange-mobicarte-10", channel="api", now=now).topup
        receipt = receipts.issue(session, receipt_id=uuid.uuid4(), topup=topup, operator_id=line.operator_id,
                                 line_id=line.id, payment_method="cash", language="zh_CN", now=now, issuer=ISSUER)
        operator = catalog.get_operator(session, line.operator_id)
        offer = catalog.get_offer(session, topup.offer_id, operator)
    return db, receipt, operator, offer


def _p50(call: Callable[[], None], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)
