"""The sandbox approves whatever its payer says: outside demo mode it is off, unmounted and never a fallback, and the
portal offers only methods routed to an enabled provider. Tried as a payer who wants credit for nothing."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.core.signing import sign
from simkeep.main import create_app
from simkeep.notification.models import OutboxMessage
from simkeep.notification.senders import make_sender
from simkeep.notification.tasks import deliver_due
from simkeep.payment.models import METHODS, PaymentAttempt
from simkeep.payment.providers import ProviderDisabled, available_methods, provider_for, provider_named, route
from simkeep.payment.providers.sandbox import SandboxProvider
from simkeep.payment.tasks import process_inbox, reconcile
from simkeep.sandbox.tasks import expire_abandoned
from tests.conftest import SANDBOX_SECRET
from tests.factories.lines import make_line
from tests.factories.payments import attempt_status, checkout, now, pay
from tests.factories.snapshot import count, snapshot

OLD_SANDBOX_DEFAULT = "whsec_sandbox_dev_change_me"
OPERATOR = "fr-orange-mobicarte"
STRIPE = {"stripe_api_key": "sk_test_simkeep", "stripe_publishable_key": "pk_test_simkeep",
          "stripe_webhook_secret": "whsec_simkeep_stripe_test"}


@pytest.fixture
def off(settings):
    """Production as shipped: the sandbox not switched on, nothing routed."""
    return settings.model_copy(update={"sandbox_enabled": None, "payment_routes": {}})


def test_with_the_sandbox_off_a_self_approved_payment_gives_no_credit(db, settings, off, monkeypatch):
    make_line(db, now=now())
    attempt_id, ref = checkout(db, settings)  # started while the sandbox was on (a demo, a staging run)
    event = json.dumps(pay(db, ref), separators=(",", ":")).encode()  # ... and approved by the payer themself
    before = snapshot(db)
    with TestClient(create_app(off, db), follow_redirects=False) as client:
        assert client.get(f"/sandbox/pay/{ref}").status_code == 404
        for path in (f"/sandbox/pay/{ref}", f"/sandbox/3ds/{ref}"):
            assert client.post(path, data={"action": "pay", "card_number": "4242424242424242"}).status_code == 404
        for secret in (OLD_SANDBOX_DEFAULT, SANDBOX_SECRET):
            answer = client.post("/webhooks/sandbox", content=event, headers={
                "content-type": "application/json", "simkeep-signature": sign(secret, event, int(time.time()))})
            assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")
    assert process_inbox(db, off) == 0
    monkeypatch.setattr("simkeep.core.clock.now", lambda: now() + timedelta(days=1))  # long stuck
    assert reconcile(db, off) == 1 and expire_abandoned(db, off) == 0  # nobody answers for the sandbox now
    assert attempt_status(db, attempt_id) == "pending"
    assert snapshot(db) == before


def test_with_the_sandbox_off_its_queued_webhook_is_not_signed(db, settings, off):
    make_line(db, now=now())
    _, ref = checkout(db, settings)
    pay(db, ref)
    deliver_due(db, make_sender(off, db), lease_seconds=60, max_attempts=8)
    with db.transaction(write=False) as session:
        [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "webhook.sandbox"))
    assert (message.status, message.last_error) == ("failed", "PermanentFailure: no signing secret for http://x/webhooks/sandbox")


def test_the_sandbox_cannot_be_built_or_reached_when_off_and_is_never_a_fallback(db, settings, off):
    for cfg in (off, off.model_copy(update={"sandbox_enabled": False, "sandbox_webhook_secret": SANDBOX_SECRET})):
        with pytest.raises(ProviderDisabled):
            SandboxProvider(db, cfg)
        with pytest.raises(ProviderDisabled):
            provider_named("sandbox", db, cfg)
        assert [route(m, OPERATOR, cfg) for m in METHODS] == [None] * len(METHODS)
        assert available_methods(OPERATOR, cfg) == ()
        with pytest.raises(ProviderDisabled):
            provider_for("card", OPERATOR, db, cfg)
    # Switched on explicitly but routed nowhere: still nothing falls back to it.
    on_unrouted = off.model_copy(update={"sandbox_enabled": True, "sandbox_webhook_secret": SANDBOX_SECRET})
    assert available_methods(OPERATOR, on_unrouted) == ()
    with pytest.raises(ProviderDisabled):
        provider_named("stipe", db, on_unrouted)


def test_routes_per_operator_decide_what_is_offered(off):
    cfg = off.model_copy(update={**STRIPE, "payment_routes": {"*": {"card": "stripe"},
                                                             "fr-free-2eur": {"bank_transfer": "sepa"}}})
    assert available_methods(OPERATOR, cfg) == ("card",)
    assert available_methods("fr-free-2eur", cfg) == ("card", "bank_transfer")


# -- the portal -----------------------------------------------------------------------------------------------------

def csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/recharge").text).group(1)


def to_method_step(client, cfg, db, msisdn="+33612345678") -> str:
    """Through the wizard as a payer does, up to the method page; returns the CSRF token."""
    token = csrf(client)
    client.post("/recharge/offer", data={"offer": "fr-orange-mobicarte-10", "csrf_token": token})
    answer = client.post("/recharge/number", data={"msisdn": msisdn, "csrf_token": token})
    if "/recharge/code" in answer.headers.get("location", ""):  # the number is proved with an SMS code
        deliver_due(db, make_sender(cfg, db), lease_seconds=60, max_attempts=8)
        code = json.loads(cfg.messages_log.read_text().splitlines()[-1])["payload"]["code"]
        client.post("/recharge/code", data={"code": code, "csrf_token": token})
    return token


def offered(page: str) -> list[str]:
    return re.findall(r'name="method" value="([^"]+)"', page)


def test_the_method_page_offers_only_routed_methods_and_refuses_the_others_posted_by_hand(db, off):
    make_line(db, now=now())
    cfg = off.model_copy(update={**STRIPE, "payment_routes": {"*": {"card": "stripe"}}})
    with TestClient(create_app(cfg, db), follow_redirects=False) as client:
        token = to_method_step(client, cfg, db)
        page = client.get("/recharge/method")
        assert page.status_code == 200 and offered(page.text) == ["card"]
        before = snapshot(db)
        for method in ("wechat_pay", "bank_transfer", "paypal", "sandbox", ""):
            answer = client.post("/recharge/method", data={"method": method, "csrf_token": token})
            assert answer.headers["location"] == "/recharge/method?error=method_required", method
            assert client.get("/recharge/summary").headers["location"] == "/recharge/method"
        assert snapshot(db) == before


def test_a_method_chosen_before_its_route_was_removed_is_refused_at_confirm(db, settings, off):
    make_line(db, now=now())
    on = settings
    with TestClient(create_app(on, db), follow_redirects=False) as client:
        token = to_method_step(client, on, db)
        client.post("/recharge/method", data={"method": "wechat_pay", "csrf_token": token})
        summary = client.get("/recharge/summary")
        assert summary.status_code == 200
        checkout_key = re.search(r'name="checkout_key" value="([^"]+)"', summary.text).group(1)
        cookies = dict(client.cookies)
    before = snapshot(db)
    with TestClient(create_app(off, db), follow_redirects=False, cookies=cookies) as client:
        assert client.get("/recharge/summary").headers["location"] == "/recharge/method"
        answer = client.post("/recharge/confirm", data={"checkout_key": checkout_key, "csrf_token": token})
        assert answer.status_code == 303 and answer.headers["location"] == "/recharge/summary"
    assert count(db, PaymentAttempt) == 0 and snapshot(db) == before


@pytest.mark.parametrize(("lang", "text", "store"), [
    ("en", "Online payment is not available right now.", "Find a store"),
    ("fr", "Le paiement en ligne n'est pas disponible pour le moment.", "Trouver une boutique"),
    ("zh_CN", "目前无法在线支付。", "查找营业厅"),
])
def test_without_any_routed_method_the_page_says_so_and_points_to_stores(db, off, lang, text, store):
    make_line(db, now=now())
    with TestClient(create_app(off, db), follow_redirects=False) as client:
        client.get(f"/?lang={lang}")
        to_method_step(client, off, db)
        page = client.get(f"/recharge/method?lang={lang}")
    body = unescape(page.text)
    assert page.status_code == 200 and text in body and 'href="/stores"' in body
    assert offered(page.text) == [] and 'action="/recharge/method"' not in body and store in body
