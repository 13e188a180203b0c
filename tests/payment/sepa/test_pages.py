"""The payer's transfer page (through the portal's confirm step) and the admin statement upload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from simkeep.admin import bank as bank_pages
from simkeep.audit import service as audit
from simkeep.main import create_app
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.providers.sepa import epc
from simkeep.payment.providers.sepa import service as bank
from simkeep.payment.providers.sepa.models import BankEntry
from simkeep.payment.tasks import process_inbox
from tests.factories.lines import make_line, view
from tests.factories.sessions import open_session
from tests.factories.snapshot import snapshot
from tests.factories.staff import make_staff, sign_in
from tests.payment.sepa.statements import Credit, statement

MSISDN = "+33612345678"


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"payment_routes": {"*": {"bank_transfer": "sepa"}},
                                       "sepa_iban": "DE89370400440532013000", "sepa_bic": "COBADEFFXXX",
                                       "public_url": "http://127.0.0.1:9"})


@pytest.fixture
def web(cfg, db) -> Iterator[TestClient]:
    app = create_app(cfg, db)
    if not any(getattr(r, "path", None) == bank_pages.PATH for r in app.routes):
        app.include_router(bank_pages.router)  # until main.py includes it
    with TestClient(app) as client:
        yield client


def test_a_bank_transfer_checkout_shows_the_details_and_is_credited_after_the_statement(web, cfg, db):
    make_line(db, now=datetime.now(UTC))
    open_session(db, web, {
        "numbers": [MSISDN], "csrf": "t0k",
        "wizard": {"offer": "fr-orange-mobicarte-10", "operator": "fr-orange-mobicarte", "msisdn": MSISDN,
                   "method": "bank_transfer", "key": "checkout-key-1"}})
    assert web.get("/recharge/summary").status_code == 200  # the price is shown (quoted) before it is charged
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
    # The EPC QR code, inline: the payload of this account, amount and reference, nothing else.
    [svg] = re.findall(r'<svg [^>]*class="epc-qr".*?</svg>', html, re.S)
    assert svg == epc.qr_inline("\n".join(["BCD", "002", "1", "SCT", "COBADEFFXXX", "simkeep demo operator",
                                           "DE89370400440532013000", "EUR10.00", "", attempt.provider_ref]))

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


def upload(client: TestClient, data: bytes, *, csrf: str | None = None):
    return client.post(bank_pages.PATH, data={"csrf_token": csrf if csrf is not None else upload_form(client)},
                       files={"file": ("statement.xml", data, "application/xml")})


@pytest.fixture
def finance(db, cfg):
    return make_staff(db, cfg, username="alice", role="finance")


def test_the_admin_upload_imports_once_and_shows_the_counts(web, db, finance):
    sign_in(web, db, finance)
    data = statement("S1", [Credit("B1", "10.00"), Credit("B2", "5.00", direction="DBIT")])
    first = upload(web, data)
    assert first.status_code == 200, first.text
    assert "Statement imported" in first.text
    assert re.search(r"New entries</dt><dd>1</dd>", first.text) and re.search(r"To review</dt><dd>1</dd>", first.text)
    again = upload(web, data)
    assert again.status_code == 200 and "already imported. Nothing changed." in again.text
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(BankEntry)) == 1


def test_the_admin_upload_needs_a_finance_session_and_the_csrf_token(web, db, cfg, finance):
    data = statement("S1", [Credit("B1", "10.00")])
    before = snapshot(db)
    anonymous = web.post(bank_pages.PATH, data={"token": cfg.admin_token, "csrf_token": "x"},
                         files={"file": ("statement.xml", data, "application/xml")}, follow_redirects=False)
    assert anonymous.status_code == 401  # the admin token no longer opens any page
    sign_in(web, db, make_staff(db, cfg, username="sam", role="support"))
    support = upload(web, data, csrf=re.search(r'name="csrf_token" value="([^"]+)"', web.get("/admin/account").text)[1])
    assert support.status_code == 403 and "Your role does not allow this." in support.text
    after_support = snapshot(db)
    web.cookies.clear()  # a new browser for the finance person
    sign_in(web, db, finance)
    assert upload(web, data, csrf="forged").status_code == 403
    money = ("bank_statements", "bank_entries", "journal_entries", "postings", "payment_attempts")
    for snap in (after_support, snapshot(db)):
        assert {t: snap["counts"][t] for t in money} == {t: before["counts"][t] for t in money} == dict.fromkeys(money, 0)
        assert snap["balances"] == before["balances"]


def test_an_unreadable_upload_says_why_and_changes_nothing(web, db, finance):
    sign_in(web, db, finance)
    before = snapshot(db)
    bad = upload(web, b"<Document/>")
    assert bad.status_code == 422 and "This is not a camt.053 bank statement" in bad.text
    empty = web.post(bank_pages.PATH, data={"csrf_token": upload_form(web)})
    assert empty.status_code == 422 and "Choose a statement file to import." in empty.text
    assert snapshot(db) == before


def test_signed_in_staff_upload_and_settle_entries_with_a_reason(web, db, finance):
    assert web.get(bank_pages.REVIEW_PATH, follow_redirects=False).headers["location"] == "/admin"
    sign_in(web, db, finance)
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
    assert (record.actor, record.reason) == ("staff:alice", "refunded by transfer")
