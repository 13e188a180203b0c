"""The PayPal journey through the portal: approval at PayPal, capture when the payer comes back."""

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.main import create_app
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.providers import paypal
from simkeep.payment.tasks import process_inbox
from tests.factories.lines import make_line, view
from tests.factories.payments import now
from tests.payment import paypal_shapes as shapes
from tests.payment.paypal_fake import FakePayPal

ORDER_PATH = f"/v2/checkout/orders/{shapes.ORDER_ID}"


@pytest.fixture
def portal(db, settings, monkeypatch):
    cfg = settings.model_copy(update={
        "payment_routes": {"*": {"paypal": "paypal"}}, "paypal_client_id": "id",
        "paypal_client_secret": "secret", "paypal_webhook_id": "WH-1", "public_url": "http://testserver"})
    fake = FakePayPal()
    api = paypal._Api(cfg.paypal_api_base, "id", "secret", fake.transport)
    monkeypatch.setattr(paypal, "_shared_api", lambda _settings: api)
    with TestClient(create_app(cfg, db), follow_redirects=False) as client:
        yield client, cfg, fake


def to_paypal(client, db) -> tuple[str, str]:
    """Through the wizard to PayPal's approval page; returns (attempt id, approval URL)."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/recharge").text).group(1)
    client.post("/recharge/offer", data={"offer": "fr-orange-mobicarte-10", "csrf_token": token})
    client.post("/recharge/number", data={"msisdn": "+33612345678", "csrf_token": token})  # no code to renew
    client.post("/recharge/method", data={"method": "paypal", "csrf_token": token})
    key = re.search(r'name="checkout_key" value="([^"]+)"', client.get("/recharge/summary").text).group(1)
    answer = client.post("/recharge/confirm", data={"checkout_key": key, "csrf_token": token})
    with db.transaction(write=False) as session:
        attempt = session.scalars(select(PaymentAttempt)).one()
    return str(attempt.id), answer.headers["location"]


def test_approval_then_return_captures_and_credits_once(db, portal):
    client, cfg, fake = portal
    make_line(db, now=now())
    fake.on("POST", "/v2/checkout/orders", (201, shapes.order_created()))
    fake.on("POST", f"{ORDER_PATH}/capture", (201, shapes.completed_order()))
    attempt_id, approval = to_paypal(client, db)
    assert approval.startswith(shapes.WEB)
    back = client.get(f"/pay/{attempt_id}", params={"token": shapes.ORDER_ID, "PayerID": "FSMVU44LF3YUS"})
    assert back.headers["location"] == f"/pay/{attempt_id}"
    client.get(f"/pay/{attempt_id}", params={"token": shapes.ORDER_ID, "PayerID": "FSMVU44LF3YUS"})  # a reload
    process_inbox(db, cfg)
    assert view(db).credit.minor == 1000
    # A reload before the worker ran captures again, under the same PayPal-Request-Id: PayPal answers the same.
    assert {r.headers["PayPal-Request-Id"] for r in fake.sent("POST", f"{ORDER_PATH}/capture")} == {
        f"capture:{attempt_id}"}
    assert client.get(f"/pay/{attempt_id}/status").json()["status"] == "succeeded"


def test_a_capture_that_times_out_is_not_a_failure(db, portal):
    client, cfg, fake = portal
    make_line(db, now=now())

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake.on("POST", "/v2/checkout/orders", (201, shapes.order_created()))
    fake.on("POST", f"{ORDER_PATH}/capture", timeout)
    attempt_id, _ = to_paypal(client, db)
    client.get(f"/pay/{attempt_id}", params={"token": shapes.ORDER_ID, "PayerID": "X"})
    process_inbox(db, cfg)
    assert client.get(f"/pay/{attempt_id}/status").json()["status"] == "pending"
    assert view(db).credit.minor == 0


def test_cancel_at_paypal_says_so_and_moves_nothing(db, portal):
    client, cfg, fake = portal
    make_line(db, now=now())
    fake.on("POST", "/v2/checkout/orders", (201, shapes.order_created()))
    attempt_id, _ = to_paypal(client, db)
    client.get(f"/pay/{attempt_id}", params={"token": shapes.ORDER_ID, "cancelled": "1"})
    process_inbox(db, cfg)
    assert client.get(f"/pay/{attempt_id}/status").json()["status"] == "failed"
    assert view(db).credit.minor == 0 and fake.sent("POST", f"{ORDER_PATH}/capture") == []
