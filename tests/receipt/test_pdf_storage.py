"""Receipt PDFs are rendered once and served from storage: an anonymous link cannot make the server render again.

The renders are counted by wrapping simkeep.receipt.pdf.render_pdf (the only place WeasyPrint runs)."""

from __future__ import annotations

import io
import threading
import uuid

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from simkeep.receipt import pdf
from simkeep.receipt import service as receipts
from simkeep.receipt.models import ReceiptPdf
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.web import race


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """Every render's verify URL, in order."""
    seen: list[str] = []
    real = pdf.render_pdf
    gate = threading.Lock()

    def counting(*args, **kwargs):
        with gate:
            seen.append(kwargs["verify_url"])
        return real(*args, **kwargs)

    monkeypatch.setattr(pdf, "render_pdf", counting)
    return seen


@pytest.fixture
def receipt(db):
    line = make_line(db, now=T0)
    topup = top_up(db, now=T0).topup
    with db.transaction() as session:
        return receipts.issue(session, receipt_id=uuid.uuid4(), topup=topup, operator_id=line.operator_id,
                              line_id=line.id, payment_method="card", language="zh_CN", now=T0)


def stored_rows(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(ReceiptPdf))


def test_twenty_concurrent_first_requests_render_once_and_get_identical_bytes(live_server, settings, db, receipt,
                                                                              renders):
    token = receipts.token_for(settings.key("receipt"), receipt.id)
    url = f"{live_server}/receipts/{token}.pdf"

    def fetch(_i: int) -> httpx.Response:
        return httpx.get(url, timeout=120)

    responses = race(20, fetch)
    assert [r.status_code for r in responses] == [200] * 20
    assert {r.headers["content-type"] for r in responses} == {"application/pdf"}
    assert len({r.content for r in responses}) == 1
    assert renders == [f"{settings.base_url}/receipts/{token}"]
    assert stored_rows(db) == 1
    text = PdfReader(io.BytesIO(responses[0].content)).pages[0].extract_text()
    assert receipt.number in text
    # Later requests are served from storage: still one render.
    assert httpx.get(url).content == responses[0].content
    assert len(renders) == 1


def test_a_forged_or_unknown_link_renders_nothing(client, settings, db, receipt, renders):
    token = receipts.token_for(settings.key("receipt"), receipt.id)
    for forged in (token[:-5] + ("x" if token[-5] != "x" else "y") + token[-4:],
                   receipts.token_for(settings.key("receipt"), uuid.uuid4()), "x" * 5000):
        assert client.get(f"/receipts/{forged}.pdf").status_code == 404
    assert client.get("/receipts/%00.pdf").status_code == 422  # control characters are refused before any route
    assert renders == [] and stored_rows(db) == 0


def test_a_stale_copy_is_rendered_once_more_with_the_link_of_today(settings, db, receipt, renders):
    """The PDF prints the receipt's link: when the public URL changes (or a rotated key changes the token), the
    stored copy is stale, and the next request renders it again, once."""
    from fastapi.testclient import TestClient

    from simkeep.main import create_app

    token = receipts.token_for(settings.key("receipt"), receipt.id)
    with TestClient(create_app(settings, db)) as c:
        first = c.get(f"/receipts/{token}.pdf").content
    moved = settings.model_copy(update={"public_url": "https://receipts.example"})
    with TestClient(create_app(moved, db)) as c:
        again = [c.get(f"/receipts/{token}.pdf").content for _ in range(3)]
    assert again[0] == again[1] == again[2] != first
    assert renders == [f"{settings.base_url}/receipts/{token}", f"https://receipts.example/receipts/{token}"]
    assert stored_rows(db) == 1
