import html
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.locale import formats
from simkeep.locale.languages import BASE_LOCALE
from simkeep.main import create_app
from simkeep.notification.models import OutboxMessage
from simkeep.payment.models import PaymentAttempt
from tests.factories.lines import make_line, top_up, view
from tests.factories.payments import (
    SECRET,
    attempt_status,
    checkout,
    in_review_amount_differs,
    in_review_line_lost,
    now,
    paid,
)
from tests.factories.staff import make_staff, sign_in


@pytest.fixture
def staff(db, settings):
    cfg = settings.model_copy(update={"sandbox_webhook_secret": SECRET})
    with TestClient(create_app(cfg, db), follow_redirects=False) as client:
        yield client, cfg


def csrf(client, path="/admin") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def form_of(page: str, attempt_id) -> str:
    return re.search(rf'<form method="post" action="/admin/review/{attempt_id}".*?</form>', page, re.S).group(0)


def attempt(db, attempt_id) -> PaymentAttempt:
    with db.transaction(write=False) as session:
        return session.get(PaymentAttempt, attempt_id)


def test_staff_sign_in_with_their_account_and_settle_with_a_reason(db, staff):
    client, cfg = staff
    make_line(db, now=now())
    attempt_id = in_review_line_lost(db, cfg)
    eve = make_staff(db, cfg, username="eve", role="finance")
    token = csrf(client)
    assert client.post("/admin", data={"username": "eve", "password": "wrong password!", "csrf_token": token}
                       ).status_code == 401
    assert client.get("/admin/review").headers["location"] == "/admin"
    sign_in(client, db, eve)
    token = csrf(client, "/admin/review")
    page = client.get("/admin/review")
    assert page.status_code == 200
    form = form_of(page.text, attempt_id)
    assert all(field in form for field in ('name="csrf_token"', 'name="decision" value="credit"',
                                           'name="decision" value="refund"', 'name="decision" value="dismiss"',
                                           'name="reason" required', 'name="key"'))
    no_csrf = client.post(f"/admin/review/{attempt_id}", data={"decision": "dismiss", "reason": "x"})
    assert no_csrf.status_code == 403
    settled = client.post(f"/admin/review/{attempt_id}", data={"decision": "dismiss", "reason": "refunded by phone",
                                                               "csrf_token": token})
    assert settled.headers["location"] == "/admin/review?done=dismiss"
    assert attempt_status(db, attempt_id) == "dismissed"
    with db.transaction(write=False) as session:
        [entry] = [e for e in session.scalars(select(AuditEntry)) if e.action == "review.dismiss"]
        [sms] = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "review.dismissed")).all()
    assert (entry.actor, entry.reason) == ("staff:eve", "refunded by phone")
    assert (sms.recipient, sms.language) == ("+33612345678", "fr")
    after = client.get("/admin/review?done=dismiss").text
    assert "Nothing is waiting for review." in after and "Dismissed: the payer is told by SMS." in after
    assert client.get("/admin/reconciliation").status_code == 200


@pytest.mark.parametrize(("lang", "reason", "amount", "provider"), [
    ("en", "Paid, but the line can no longer be recharged (deactivated or lost meanwhile).", "€10.00",
     "Sandbox (test payments)"),
    ("fr", "Payé, mais la ligne ne peut plus être rechargée (résiliée ou perdue entre-temps).", "10,00\u00a0€",
     "Bac à sable (paiements de test)"),
    ("zh_CN", "已付款，但号码已无法充值（期间已销户或被回收）。", "€10.00", "沙盒（测试付款）"),
])
def test_each_item_shows_its_date_amount_provider_reference_line_and_reason_in_the_readers_words(
        db, staff, lang, reason, amount, provider):
    client, cfg = staff
    make_line(db, now=now())
    # The amount first: a checkout is for a live line, and the other item takes the line's number away.
    differs = attempt(db, in_review_amount_differs(db, cfg))
    lost = attempt(db, in_review_line_lost(db, cfg))
    sign_in(client, db, make_staff(db, cfg, username="sam", role="support"))
    client.cookies.set("tz", "Asia/Shanghai")
    page = html.unescape(client.get(f"/admin/review?lang={lang}").text)
    start = page.index(f'id="payment-{lost.id}"')
    end = page.find('id="payment-', start + 1)
    item = page[start:end if end != -1 else len(page)]
    locale = BASE_LOCALE[lang]
    assert reason in item and "line_not_renewable" not in item
    assert f"{amount} — " in item and provider in item and lost.provider_ref in item
    assert 'href="/admin/lines/%2B33612345678">+33 6 12 34 56 78</a>' in item
    assert formats.when(lost.created_at, "Asia/Shanghai", locale) in item
    assert "(0.01 EUR)" in page[page.index(f'id="payment-{differs.id}"'):]
    assert "Asia/Shanghai" in page
    assert "<form method=\"post\"" not in page  # support reads the queue; settling is finance's (the search box is a GET)


def test_a_refund_from_the_page_goes_to_the_provider_once_and_only_for_roles_that_may(db, staff):
    client, cfg = staff
    make_line(db, now=now())
    item = in_review_line_lost(db, cfg)
    sign_in(client, db, make_staff(db, cfg, username="sam", role="support"))
    token = csrf(client, "/admin/account")
    assert client.post(f"/admin/review/{item}", data={"decision": "refund", "reason": "x", "key": "k1",
                                                      "csrf_token": token}).status_code == 403
    assert attempt_status(db, item) == "review"
    client.cookies.clear()
    sign_in(client, db, make_staff(db, cfg, username="fay", role="finance"))
    token = csrf(client, "/admin/review")
    key = re.search(r'name="key" value="([^"]+)"', client.get("/admin/review").text).group(1)
    blank = client.post(f"/admin/review/{item}", data={"decision": "refund", "reason": " ", "key": key,
                                                       "csrf_token": token})
    assert blank.headers["location"] == "/admin/review?error=invalid_input" and attempt_status(db, item) == "review"
    for _ in range(2):  # a double submit of the same form
        answer = client.post(f"/admin/review/{item}", data={"decision": "refund", "reason": "line lost", "key": key,
                                                            "csrf_token": token})
        assert answer.headers["location"] == "/admin/review?done=refunded"
    assert attempt_status(db, item) == "refunded"
    with db.transaction(write=False) as session:
        assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "review.refunded")).all()) == 1
    assert "Refunded: the payment service sent the money back" in client.get("/admin/review?done=refunded").text
    other = client.post(f"/admin/review/{item}", data={"decision": "credit", "reason": "late", "csrf_token": token})
    assert other.headers["location"] == "/admin/review?error=not_in_review"
    assert "This payment is not waiting for review any more." in client.get("/admin/review?error=not_in_review").text


def test_the_line_page_shows_state_validity_balance_and_the_numbers_payments(db, staff):
    client, cfg = staff
    make_line(db, now=now())
    paid(db, cfg, key="ok")
    waiting = in_review_amount_differs(db, cfg)
    sign_in(client, db, make_staff(db, cfg, username="sam", role="support"))
    page = html.unescape(client.get("/admin/lines/%2B33612345678").text)
    line = view(db)
    assert page.count("<tr>") == 1 + 2 + 1 + 1 + 2  # payments: header and two; top-ups: header and one; calls: none
    assert "Active" in page and "€10.00" in page
    assert formats.last_day(line.line.validity_ends_at, line.operator.timezone, "en") in page
    assert f'href="/admin/review#payment-{waiting}">In review</a>' in page and "Paid and credited" in page
    assert client.get("/admin/lines/%2B33699999999").status_code == 404
    assert client.get("/admin/lines/not-a-number").status_code == 404


def test_reconciliation_totals_open_to_the_payments_they_hold_with_a_day_picker(db, staff):
    client, cfg = staff
    make_line(db, now=now())
    paid(db, cfg, key="a")
    paid(db, cfg, key="b", offer_id="fr-orange-mobicarte-5")
    pending, _ = checkout(db, cfg, key="c")
    sign_in(client, db, make_staff(db, cfg, username="fin", role="finance"))
    today = now().date()
    page = client.get(f"/admin/reconciliation?day={today}").text
    assert f'<input type="date" id="day" name="day" value="{today}"' in page
    assert f'href="/admin/reconciliation?day={today - timedelta(days=1)}" rel="prev"' in page
    assert f'href="/admin/reconciliation?day={today + timedelta(days=1)}" rel="next"' in page
    captured = f"/admin/reconciliation/payments?day={today}&amp;provider=sandbox&amp;currency=EUR&amp;total=captured"
    assert f'href="{captured}">€15.00</a>' in page
    listed = html.unescape(client.get(html.unescape(captured)).text)
    assert "2 payments, €15.00 in all." in listed and listed.count("Paid and credited") == 2
    waiting = html.unescape(client.get(f"/admin/reconciliation/payments?day={today}&provider=sandbox&currency=EUR"
                                       f"&total=pending").text)
    assert "1 payment, €10.00 in all." in waiting and attempt(db, pending).provider_ref in waiting
    assert "No payment." in client.get(f"/admin/reconciliation/payments?day={date(2001, 1, 1)}&provider=sandbox"
                                       "&currency=EUR&total=pending").text
    assert client.get("/admin/reconciliation?day=2027-02-30").status_code == 422
    assert client.get(f"/admin/reconciliation/payments?day={today}&provider=sandbox&currency=EUR&total=x"
                      ).status_code == 404
    assert client.get(f"/admin/reconciliation/payments?day={today}&provider=acme&currency=EUR&total=pending"
                      ).status_code == 404


def test_the_message_log_shows_status_attempts_and_receipts(db, staff):
    client, cfg = staff
    make_line(db, now=now())
    top_up(db, now=now())
    sign_in(client, db, make_staff(db, cfg, username="sam", role="support"))
    page = client.get("/admin/messages")
    assert page.status_code == 200 and "topup.completed · sms" in page.text and "pending" in page.text
    assert "topup.completed" not in client.get("/admin/messages?status=failed").text
