"""The provider's webhooks against the live server (no browser): forged, tampered and stale ones are refused with
400 and leave no trace; a replayed one is stored once and credits once; a late failure undoes nothing."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.signing import sign
from simkeep.line import service as lines
from simkeep.payment import service as payments
from simkeep.payment.providers import provider_named
from simkeep.payment.providers.base import Checkout
from simkeep.sandbox.models import SandboxPayment
from tests.browser import journey as j
from tests.browser.conftest import MSISDN, WEBHOOK_SECRET


@pytest.fixture
def pending_payment(portal):
    """A card payment started as the portal starts one (attempt, then the provider), waiting for its outcome."""
    portal.line(language="en")
    db = portal.db
    with db.transaction() as session:
        line = lines.find_live_line(session, MSISDN)
        operator = catalog.get_operator(session, line.operator_id)
        offer = catalog.get_offer(session, j.OFFER_10, operator)
        attempt, _ = payments.start_checkout(session, checkout_key="webhook-test", line=line, operator=operator,
                                             offer=offer, method="card", provider="sandbox", language="en",
                                             now=clock.now())
    created = provider_named("sandbox", db, portal.settings).create_payment(Checkout(
        attempt_id=str(attempt.id), amount_minor=attempt.amount_minor, currency=attempt.currency, method="card",
        description="Orange Mobicarte", return_url=f"/pay/{attempt.id}", language="en"))
    with db.transaction() as session:
        payments.record_created(session, attempt.id, created, now=clock.now())
    return attempt, created.ref


def event(ref: str, attempt, status: str, failure: str | None = None) -> bytes:
    """The body the sandbox sends (same shape, same compact JSON)."""
    payload = {"id": f"evt_{ref}_{status}", "type": f"payment.{status}", "created": int(time.time()),
               "data": {"ref": ref, "merchant_ref": str(attempt.id), "amount_minor": 1000, "currency": "EUR",
                        "method": "card", "failure": failure}}
    return json.dumps(payload, separators=(",", ":")).encode()


def deliver(portal, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["Simkeep-Signature"] = signature
    return httpx.post(portal.url("/webhooks/sandbox"), content=body, headers=headers, timeout=10)


def attempt_status(portal, attempt) -> str:
    return next(a.status for a in j.attempts(portal) if a.id == attempt.id)


def test_forged_tampered_and_stale_webhooks_are_refused(portal, pending_payment):
    attempt, ref = pending_payment
    money_before = portal.money()
    body = event(ref, attempt, "succeeded")
    now = int(time.time())
    refused = {
        "signed with the wrong secret": (body, sign("whsec_wrong", body, now)),
        "not signed": (body, None),
        "signature garbage": (body, "t=abc,v1=xyz"),
        "amount changed after signing": (body.replace(b'"amount_minor":1000', b'"amount_minor":100'),
                                         sign(WEBHOOK_SECRET, body, now)),
        "stale: signed 5 min 1 s ago": (body, sign(WEBHOOK_SECRET, body, now - 301)),
        "stale: signed an hour ago": (body, sign(WEBHOOK_SECRET, body, now - 3600)),
        "from 10 minutes in the future": (body, sign(WEBHOOK_SECRET, body, now + 600)),
    }
    for name, (sent, signature) in refused.items():
        response = deliver(portal, sent, signature)
        assert response.status_code == 400, (name, response.status_code, response.text)
        assert response.json()["error"]["code"] == "webhook_rejected", name
    portal.worker.wait_rounds(2)
    assert portal.count("webhook_inbox") == 0
    assert attempt_status(portal, attempt) == "pending"
    assert portal.money() == money_before


def test_replayed_webhook_is_stored_once_and_credits_once(portal, pending_payment):
    attempt, ref = pending_payment
    view_before = portal.view()
    body = event(ref, attempt, "succeeded")
    signature = sign(WEBHOOK_SECRET, body, int(time.time()))

    first, second = deliver(portal, body, signature), deliver(portal, body, signature)
    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (second.status_code, second.json()) == (200, {"received": True, "duplicate": True})
    assert portal.count("webhook_inbox") == 1
    portal.worker.wait_rounds(2)
    assert attempt_status(portal, attempt) == "succeeded"

    # Replayed later with a fresh signature: still a duplicate. A late failure for the paid payment: ignored.
    again = deliver(portal, body, sign(WEBHOOK_SECRET, body, int(time.time())))
    assert again.json() == {"received": True, "duplicate": True}
    late_failure = event(ref, attempt, "failed", failure="card_declined")
    assert deliver(portal, late_failure, sign(WEBHOOK_SECRET, late_failure, int(time.time()))).json()["duplicate"] is False
    portal.worker.wait_rounds(2)

    assert portal.count("webhook_inbox") == 2
    assert attempt_status(portal, attempt) == "succeeded"
    after = portal.view()
    assert after.balance.minor - view_before.balance.minor == 1000
    assert after.line.validity_ends_at == j.plus_days(view_before.line.validity_ends_at, 14)
    assert portal.count("topups") == 1 and portal.count("receipts") == 1
    assert len(portal.sms.wait("topup.completed", MSISDN)) == 1
    with portal.db.transaction(write=False) as session:
        assert session.get(SandboxPayment, ref) is not None  # the provider's own record is untouched by all this
