"""The payer's transfer page (through the portal's confirm step) and the admin statement upload."""

from __future__ import annotations

import json
import re
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from simkeep.audit import service as audit
from simkeep.bank import pages as bank_pages
from simkeep.bank import service as bank
from simkeep.bank.models import BankEntry
from simkeep.main import create_app
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.tasks import process_inbox
from tests.bank.statements import Credit, statement
from tests.conftest import ADMIN_TOKEN
from tests.factories.lines import make_line, view
from tests.factories.snapshot import snapshot

MSISDN = "+33612345678"


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"cookie_secure": False, "payment_routes": {"*": {"bank_transfer": "sepa"}},
                                       "sepa_iban": "DE89370400440532013000", "sepa_bic": "COBADEFFXXX",
                                       "public_url": "http://127.0.0.1:9"})


@pytest.fixture
def web(cfg, db) -> Iterator[TestClient]:
    app = create_app(cfg, db)
    if not any(getattr(r, "path", None) == bank_pages.PATH for r in app.routes):
        app.include_router(bank_pages.router)  # until main.py includes it
    with TestClient(app) as client:
        yield client


def sign_session(client: TestClient, secret: str, session: dict) -> None:
    """The browser's signed session cookie, as if the payer had signed in with the SMS code."""
    data = itsdangerous.TimestampSigner(secret).sign(b64encode(json.dumps(session).encode())).decode()
    client.cookies.set("simkeep_session", data)


def test_a_bank_transfer_checkout_shows_the_details_and_is_credited_after_the_statement(web, cfg, db):
    make_line(db, now=datetime.now(UTC))
    sign_session(web, cfg.key("session"), {
        "numbers": [MSISDN], "csrf": "t0k",
        "wizard": {"offer": "fr-orange-mobicarte-10", "operator": "fr-orange-mobicarte", "msisdn": MSISDN,
                   "method": "bank_transfer", "key": "checkout-key-1"}})
    confirmed = web.post("/recharge/confirm", data={"checkout_key": "checkout-key-1", "csrf_token": "t0k"},
                         follow_redirects=False)
    assert confirmed.status_code == 303
    with db.transaction(write=False) as session:
        [attempt] = session.scalars(select(PaymentAttempt)).all()
    assert (attempt.provider, attempt.method, attempt.status) == ("sepa", "bank_transfer", "pending")
    assert confirmed.headers["location"] == f"/pay/{attempt.id}/action"

    page = web.get(f"/pay/{attempt.id}/action?lang=fr")
    assert page.status_code == 200
    html = page.text
    grouped = " ".join(attempt.provider_ref[i:i + 4] for i in range(0, 20, 4))
    for text in ("DE89 3704 0044 0532 0130 00", "COBADEFFXXX", "simkeep demo operator", grouped, "10,00\xa0€",
                 f'href="/pay/{attempt.id}"'):
        assert text in html
    [uri] = re.findall(r'src="(data:image/svg\+xml;charset=utf-8,[^"]+)"', html)
    assert unquote(uri.split(",", 1)[1]) == attempt.next_action["epc_qr_svg"]

    with db.transaction() as session:
        bank.import_statement(session, data=statement("S1", [Credit("B1", "10.00", rf=grouped)]),
                              now=datetime.now(UTC))
    assert process_inbox(db, cfg) == 1
    assert view(db).credit.minor == 1000
    assert web.get(f"/pay/{attempt.id}/status").json()["status"] == "succeeded"


def upload_form(client: TestClient) -> str:
    page = client.get(bank_pages.PATH)
    assert page.status_code == 200 and 'type="file"' in page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def upload(client: TestClient, data: bytes, *, token: str = ADMIN_TOKEN, csrf: str | None = None):
    return client.post(bank_pages.PATH, data={"token": token, "csrf_token": csrf if csrf is not None else upload_form(client)},
                       files={"file": ("statement.xml", data, "application/xml")})


def test_the_admin_upload_imports_once_and_shows_the_counts(web, db):
    data = statement("S1", [Credit("B1", "10.00"), Credit("B2", "5.00", direction="DBIT")])
    first = upload(web, data)
    assert first.status_code == 200, first.text
    assert "Statement imported" in first.text
    assert re.search(r"New entries</dt><dd>1</dd>", first.text) and re.search(r"To review</dt><dd>1</dd>", first.text)
    again = upload(web, data)
    assert again.status_code == 200 and "already imported. Nothing changed." in again.text
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(BankEntry)) == 1


def test_the_admin_upload_needs_the_token_and_the_csrf_token(web, db, cfg):
    data = statement("S1", [Credit("B1", "10.00")])
    before = snapshot(db)
    denied = upload(web, data, token="wrong")
    assert denied.status_code == 403 and "The admin token is not right." in denied.text
    assert upload(web, data, token="").status_code == 403
    assert upload(web, data, csrf="forged").status_code == 403
    assert snapshot(db) == before


def test_without_a_configured_admin_token_nobody_may_upload(cfg, db):
    app = create_app(cfg.model_copy(update={"admin_token": None}), db)
    app.include_router(bank_pages.router)
    before = snapshot(db)
    with TestClient(app) as client:
        assert upload(client, statement("S1", [Credit("B1", "7.00")]), token="").status_code == 403
        assert upload(client, statement("S1", [Credit("B1", "7.00")]), token="None").status_code == 403
    assert snapshot(db) == before


def test_an_unreadable_upload_says_why_and_changes_nothing(web, db):
    before = snapshot(db)
    bad = upload(web, b"<Document/>")
    assert bad.status_code == 422 and "This is not a camt.053 bank statement" in bad.text
    empty = web.post(bank_pages.PATH, data={"token": ADMIN_TOKEN, "csrf_token": upload_form(web)})
    assert empty.status_code == 422 and "Choose a statement file to import." in empty.text
    assert snapshot(db) == before


def sign_in_as_staff(client: TestClient, name: str = "Alice") -> None:
    page = client.get("/admin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = client.post("/admin", data={"token": ADMIN_TOKEN, "name": name, "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303


def test_signed_in_staff_upload_without_the_token_and_settle_entries_with_a_reason(web, db):
    assert web.get(bank_pages.REVIEW_PATH, follow_redirects=False).headers["location"] == "/admin"
    sign_in_as_staff(web)
    form = web.get(bank_pages.PATH)
    assert 'name="token"' not in form.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    done = web.post(bank_pages.PATH, data={"csrf_token": csrf},
                    files={"file": ("s.xml", statement("S1", [Credit("B1", "7.00", text="merci")]), "text/xml")})
    assert done.status_code == 200 and re.search(r"To review</dt><dd>1</dd>", done.text)

    queue = web.get(bank_pages.REVIEW_PATH)
    assert queue.status_code == 200 and "no payment reference" in queue.text and "B1" in queue.text
    [action] = re.findall(r'action="(/admin/bank/review/[^"]+)"', queue.text)
    assert web.post(action, data={"reason": "x", "csrf_token": "forged"}).status_code == 403
    settled = web.post(action, data={"reason": "refunded by transfer", "csrf_token": csrf}, follow_redirects=False)
    assert settled.headers["location"] == bank_pages.REVIEW_PATH
    assert "Nothing is waiting for review." in web.get(bank_pages.REVIEW_PATH).text
    again = web.post(action, data={"reason": "again", "csrf_token": csrf}, follow_redirects=False)
    assert again.headers["location"] == f"{bank_pages.REVIEW_PATH}?error=bank_entry_not_in_review"
    with db.transaction(write=False) as session:
        [entry] = bank.entries(session, status="settled")
        [record] = audit.for_subject(session, "bank_entry", str(entry.id))
    assert (record.actor, record.reason) == ("Alice", "refunded by transfer")
