import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.lifecycle.tasks import run_sweep
from simkeep.main import create_app
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.tasks import process_inbox
from tests.factories.lines import make_line, top_up
from tests.factories.payments import SECRET, checkout, deliver, now, pay
from tests.factories.staff import make_staff, sign_in


@pytest.fixture
def staff(db, settings):
    cfg = settings.model_copy(update={"sandbox_webhook_secret": SECRET})
    with TestClient(create_app(cfg, db), follow_redirects=False) as client:
        yield client, cfg


def csrf(client, path="/admin") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def in_review(db, cfg):
    line = make_line(db, now=now())
    attempt_id, ref = checkout(db, cfg)
    event = pay(db, ref)
    run_sweep(db, now=line.number_loss_at)
    deliver(db, cfg, event)
    process_inbox(db, cfg)
    return attempt_id


def test_staff_sign_in_with_their_account_and_settle_with_a_reason(db, staff):
    client, cfg = staff
    attempt_id = in_review(db, cfg)
    eve = make_staff(db, cfg, username="eve", role="finance")
    token = csrf(client)
    assert client.post("/admin", data={"username": "eve", "password": "wrong password!", "csrf_token": token}
                       ).status_code == 401
    assert client.get("/admin/review").headers["location"] == "/admin"
    sign_in(client, db, eve)
    token = csrf(client, "/admin/review")
    page = client.get("/admin/review")
    assert page.status_code == 200 and "+33 6 12 34 56 78" in page.text and "paid but line_not_renewable" in page.text
    form = re.search(rf'<form method="post" action="/admin/review/{attempt_id}".*?</form>', page.text, re.S).group(0)
    assert all(field in form for field in ('name="csrf_token"', 'name="decision" value="credit"',
                                           'name="decision" value="dismiss"', 'name="reason" required'))
    no_csrf = client.post(f"/admin/review/{attempt_id}", data={"decision": "dismiss", "reason": "x"})
    assert no_csrf.status_code == 403
    settled = client.post(f"/admin/review/{attempt_id}", data={"decision": "dismiss", "reason": "refunded by phone",
                                                               "csrf_token": token})
    assert settled.headers["location"] == "/admin/review"
    with db.transaction(write=False) as session:
        assert session.get(PaymentAttempt, attempt_id).status == "failed"
        entries = session.scalars(select(AuditEntry)).all()
        [entry] = [e for e in entries if e.action == "review.dismiss"]
    assert (entry.actor, entry.reason) == ("staff:eve", "refunded by phone")
    assert "Nothing is waiting for review." in client.get("/admin/review").text
    assert client.get("/admin/reconciliation").status_code == 200


def test_the_message_log_shows_status_attempts_and_receipts(db, staff):
    client, cfg = staff
    make_line(db, now=now())
    top_up(db, now=now())
    sign_in(client, db, make_staff(db, cfg, username="sam", role="support"))
    page = client.get("/admin/messages")
    assert page.status_code == 200 and "topup.completed · sms" in page.text and "pending" in page.text
    assert "topup.completed" not in client.get("/admin/messages?status=failed").text
