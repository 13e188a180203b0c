"""Helpers for the Stripe adapter's tests: signed events, recorded and canned HTTP, and what Stripe.js does.

Events are signed with the SDK's own helper (stripe.WebhookSignature.generate_signature_header), the inverse of
the verification the adapter runs. Object shapes follow Stripe's API reference (PaymentIntent, Charge, Dispute).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from itertools import count
from urllib.parse import parse_qsl, urlsplit

import httpx
import requests
import stripe

_ids = count(1)


# -- signed webhooks -------------------------------------------------------------------------------------------------

def event(type_: str, obj: dict, *, event_id: str | None = None, created: int | None = None) -> dict:
    """A Stripe v1 event ("snapshot" payload) around `obj`."""
    return {"id": event_id or f"evt_test_{next(_ids):06d}", "object": "event", "api_version": "2025-09-30.clover",
            "created": created or int(time.time()), "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": type_, "data": {"object": obj}}


def body_of(evt: dict) -> bytes:
    return json.dumps(evt, indent=2).encode()  # Stripe sends pretty-printed JSON


def sign(body: bytes, secret: str, at: int | None = None) -> dict[str, str]:
    """The headers as the adapter gets them from the endpoint (lower-cased)."""
    header = stripe.WebhookSignature.generate_signature_header(body.decode("utf-8"), secret, timestamp=at)
    return {"stripe-signature": header, "content-type": "application/json; charset=utf-8"}


def payment_intent(pi_id: str = "pi_3Test", *, status: str = "succeeded", amount: int = 1000, currency: str = "eur",
                   attempt_id: str = "00000000-0000-0000-0000-000000000000", **extra) -> dict:
    received = amount if status == "succeeded" else 0
    return {"id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": received, "capture_method": "automatic_async", "client_secret": f"{pi_id}_secret_x",
            "confirmation_method": "automatic", "created": int(time.time()), "currency": currency,
            "last_payment_error": None, "latest_charge": f"ch_{pi_id[3:]}" if status == "succeeded" else None,
            "livemode": False, "metadata": {"attempt_id": attempt_id}, "next_action": None,
            "payment_method": "pm_1Test", "payment_method_types": ["card"], "status": status, **extra}


def charge(pi_id: str = "pi_3Test", *, amount: int = 1000, refunded: int = 0, currency: str = "eur") -> dict:
    return {"id": f"ch_{pi_id[3:]}", "object": "charge", "amount": amount, "amount_captured": amount,
            "amount_refunded": refunded, "captured": True, "currency": currency, "paid": True,
            "payment_intent": pi_id, "refunded": refunded >= amount, "status": "succeeded"}


def dispute(pi_id: str = "pi_3Test", *, amount: int = 1000, currency: str = "eur", reason: str = "fraudulent") -> dict:
    return {"id": "dp_1Test", "object": "dispute", "amount": amount, "charge": f"ch_{pi_id[3:]}",
            "currency": currency, "is_charge_refundable": False, "payment_intent": pi_id, "reason": reason,
            "status": "needs_response"}


# -- HTTP seen from the SDK ------------------------------------------------------------------------------------------

@dataclass
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]


def _sent(method: str, url: str, headers, post_data) -> Sent:
    query = urlsplit(url).query
    form = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
    return Sent(method.upper(), urlsplit(url).path, {k.lower(): v for k, v in dict(headers or {}).items()},
                dict(parse_qsl(form or query)))


class RecordingClient(stripe.RequestsClient):
    """The SDK's default transport, recording every request; the first `time_out` requests time out."""

    name = "recording"

    def __init__(self, *, time_out: int = 0, timeout: float = 5) -> None:
        super().__init__(timeout=timeout)
        self.sent: list[Sent] = []
        self.time_out = time_out

    def request(self, method, url, headers, post_data=None):
        self.sent.append(_sent(method, url, headers, post_data))
        if self.time_out:
            self.time_out -= 1
            self._handle_request_error(requests.exceptions.ReadTimeout("read timed out (test)"))
        return super().request(method, url, headers, post_data)


@dataclass
class CannedStripe(stripe.HTTPClient):
    """A transport answering from a table {(METHOD, path): (status, json)} and recording what it was asked."""

    answers: dict[tuple[str, str], tuple[int, dict]]
    sent: list[Sent] = field(default_factory=list)
    name = "canned"

    def __post_init__(self) -> None:
        super().__init__()

    def request(self, method, url, headers, post_data=None):
        self.sent.append(_sent(method, url, headers, post_data))
        status, answer = self.answers[(method.upper(), urlsplit(url).path)]
        return json.dumps(answer), status, {"request-id": "req_canned"}

    def close(self) -> None:
        pass


# -- what Stripe.js does in the payer's browser, done here against localstripe ---------------------------------------

class StripeJsStandIn:
    """Confirms a PaymentIntent the way Stripe.js does from the card element, and answers 3-D Secure.

    Test mode only: in production the card number goes from the payer's browser to Stripe and never to simkeep.
    localstripe's fake Stripe.js cannot create a PaymentMethod from its card element, so the tests do this step
    with the SDK (PaymentMethod, then confirm), and the 3-D Secure answer through the same endpoint its fake
    Stripe.js calls (/_authenticate with the publishable key and the client secret).
    """

    def __init__(self, api_base: str, secret_key: str, publishable_key: str) -> None:
        self.api_base, self.publishable_key = api_base, publishable_key
        self.client = stripe.StripeClient(secret_key, base_addresses={"api": api_base}, max_network_retries=0)

    def confirm_card(self, pi_id: str, number: str) -> dict:
        pm = self.client.v1.payment_methods.create(params={
            "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        self.client.v1.payment_intents.update(pi_id, params={"payment_method": pm.id})
        return self.client.v1.payment_intents.confirm(pi_id).to_dict()

    def authenticate(self, pi_id: str, client_secret: str, *, success: bool) -> dict:
        response = httpx.post(f"{self.api_base}/v1/payment_intents/{pi_id}/_authenticate",
                              params={"success": "true" if success else "false"},
                              json={"key": self.publishable_key, "client_secret": client_secret})
        response.raise_for_status()
        return response.json()

    def intent(self, pi_id: str) -> dict:
        return self.client.v1.payment_intents.retrieve(pi_id).to_dict()

    def refunds(self, pi_id: str) -> list[dict]:
        return [r.to_dict() for r in self.client.v1.refunds.list(params={"payment_intent": pi_id}).data]
