"""The Stripe adapter: flows against localstripe (a fake Stripe API server started here on 127.0.0.1), and webhooks
signed with the SDK's own signing helper (stripe.WebhookSignature.generate_signature_header).

What localstripe 1.15.10 cannot do, and how each gap is covered instead (nothing is skipped):
- It ignores the Idempotency-Key header (every POST creates a new object). The tests record the requests the SDK
  sends: the attempt id is the key, and a retry after a timeout repeats the same key with the same parameters,
  which is what makes Stripe answer a retry with the first PaymentIntent (Stripe keeps keys 24 hours).
- It refuses `payment_method_data`, `return_url` and `payment_method_options` and has no wechat_pay or alipay
  payment methods: WeChat Pay and Alipay run against a canned transport answering with the shapes of Stripe's API
  reference, and the tests check the exact request.
- Its fake Stripe.js cannot turn its card element into a PaymentMethod; it only answers 3-D Secure. The tests do
  the payer's part (test card -> PaymentMethod -> confirm) with the SDK, as Stripe.js would, and answer 3-D Secure
  through the endpoint its fake Stripe.js calls.
- It emits only payment_intent.succeeded and payment_intent.payment_failed webhooks: those are received from it
  for real; requires_action, processing, canceled, charge.refunded and charge.dispute.created are built with
  Stripe's documented shapes and signed with the SDK helper.
- It refuses `description` on a PaymentIntent: the adapter sends the description in metadata (Stripe shows it).
- It cannot confirm a PaymentIntent a second time after a decline (Stripe.js can): that success is a signed event.
The card page runs in Debian's Chromium with localstripe's Stripe.js (3-D Secure dialog answered, return to simkeep).
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import stripe
from sqlalchemy import select

import simkeep.web
from simkeep.config import Settings
from simkeep.ledger import service as ledger
from simkeep.line import service as lines
from simkeep.payment import service as payments
from simkeep.payment.flow import refund as refund_through_simkeep
from simkeep.payment.models import InboxEvent, PaymentAttempt
from simkeep.payment.providers import provider_named
from simkeep.payment.providers.base import (
    DISPUTED,
    FAILED,
    PENDING,
    REFUNDED,
    SUCCEEDED,
    Checkout,
    ProviderDeclined,
    ProviderEvent,
    ProviderStatus,
    ProviderUnavailable,
    WebhookRejected,
)
from simkeep.payment.providers.stripe import StripeProvider
from simkeep.payment.tasks import process_inbox
from simkeep.portal import result
from simkeep.topup.models import TopUp
from simkeep.web import i18n
from tests.conftest import ADMIN_TOKEN, TEST_SECRET
from tests.factories.lines import make_line, view
from tests.factories.payments import now
from tests.factories.snapshot import count, snapshot
from tests.payment.stripe_fakes import (
    CannedStripe,
    RecordingClient,
    StripeJsStandIn,
    body_of,
    charge,
    dispute,
    event,
    payment_intent,
    sign,
)
from tests.payment.stripe_localstripe import LocalStripe

SECRET = "whsec_simkeep_stripe_test"
SK, PK = "sk_test_simkeep", "pk_test_simkeep"
PUBLIC_URL = "https://simkeep.example"
# Stripe's test cards, as localstripe knows them
VISA, DECLINED, THREE_D_SECURE = "4242424242424242", "4000000000000341", "4000002760003184"
MSISDN = "+33612345678"


@pytest.fixture(scope="module")
def localstripe():
    server = LocalStripe().start()
    try:
        yield server
    finally:
        server.stop()


def stripe_settings(api_base: str | None, **changes) -> Settings:
    values = dict(stripe_api_key=SK, stripe_publishable_key=PK, stripe_webhook_secret=SECRET,
                  stripe_api_base=api_base, public_url=PUBLIC_URL,
                  payment_routes={"*": {"card": "stripe", "wechat_pay": "stripe", "alipay": "stripe"}})
    return Settings(**{**values, **changes})


@pytest.fixture
def settings(db, tmp_path, localstripe) -> Settings:
    """Replaces tests/conftest.py's: the app (client, live_server) routes cards to Stripe, here localstripe."""
    return stripe_settings(localstripe.url, database_url=db.url, data_dir=tmp_path, admin_token=ADMIN_TOKEN,
                           secret_key=TEST_SECRET)


@pytest.fixture
def provider(localstripe) -> StripeProvider:
    return StripeProvider(stripe_settings(localstripe.url))


@pytest.fixture
def stripe_js(localstripe) -> StripeJsStandIn:
    return StripeJsStandIn(localstripe.url, SK, PK)


def a_checkout(method: str = "card", *, amount: int = 1000, currency: str = "EUR", attempt_id: str | None = None,
               language: str = "fr") -> Checkout:
    attempt_id = attempt_id or str(uuid.uuid4())
    return Checkout(attempt_id=attempt_id, amount_minor=amount, currency=currency, method=method,
                    description="Orange Mobicarte +33612345678", return_url=f"/pay/{attempt_id}", language=language)


def paid_intent(provider: StripeProvider, stripe_js: StripeJsStandIn, amount: int = 1000) -> str:
    ref = provider.create_payment(a_checkout(amount=amount)).ref
    assert stripe_js.confirm_card(ref, VISA)["status"] == "succeeded"
    return ref


# -- PaymentIntents against localstripe --------------------------------------------------------------------------

def test_a_card_payment_is_a_payment_intent_for_stripe_js_with_the_amount_currency_and_attempt(
        localstripe, provider, stripe_js):
    checkout = a_checkout(amount=1500, language="zh_CN")
    created = provider.create_payment(checkout)
    intent = stripe_js.intent(created.ref)
    assert created.ref.startswith("pi_")
    assert (intent["amount"], intent["currency"], intent["status"]) == (1500, "eur", "requires_payment_method")
    assert intent["metadata"] == {"attempt_id": checkout.attempt_id, "description": checkout.description}
    assert created.next_action == {
        "type": "stripe_js", "client_secret": intent["client_secret"], "publishable_key": PK,
        "return_url": f"{PUBLIC_URL}/pay/{checkout.attempt_id}", "js_url": f"{localstripe.url}/js.stripe.com/v3/",
        "locale": "zh"}
    assert provider.fetch_status(created.ref).status == "pending"  # nobody has entered a card yet


def test_the_attempt_id_is_the_idempotency_key_and_a_retry_after_a_timeout_repeats_the_same_request(localstripe):
    """localstripe ignores Idempotency-Key, so what is checked is the request: Stripe answers a request whose key
    it has seen (with the same parameters) with the first PaymentIntent, for 24 hours."""
    transport = RecordingClient(time_out=1)  # the first try times out; the SDK retries once
    provider = StripeProvider(stripe_settings(localstripe.url), http_client=transport)
    checkout = a_checkout()
    first = provider.create_payment(checkout)
    again = StripeProvider(stripe_settings(localstripe.url), http_client=transport).create_payment(checkout)
    creates = [s for s in transport.sent if (s.method, s.path) == ("POST", "/v1/payment_intents")]
    assert len(creates) == 3  # timed out, retried, then the caller's own retry
    assert {s.headers["idempotency-key"] for s in creates} == {checkout.attempt_id}
    assert creates[0].params == creates[1].params == creates[2].params == {
        "amount": "1000", "currency": "eur", "metadata[attempt_id]": checkout.attempt_id,
        "metadata[description]": checkout.description, "payment_method_types[0]": "card"}
    assert first.ref.startswith("pi_") and again.ref.startswith("pi_")


def test_a_timeout_on_every_try_is_provider_unavailable_never_an_outcome(localstripe):
    transport = RecordingClient(time_out=10)
    provider = StripeProvider(stripe_settings(localstripe.url), http_client=transport)
    with pytest.raises(ProviderUnavailable):
        provider.create_payment(a_checkout())
    with pytest.raises(ProviderUnavailable):
        provider.fetch_status("pi_whatever")
    with pytest.raises(ProviderUnavailable):
        provider.refund("pi_whatever", amount_minor=100, currency="EUR", idempotency_key="r1")
    assert len(transport.sent) == 6  # each call tried twice (one SDK retry), then gave up


def test_a_server_that_never_answers_or_a_closed_port_is_provider_unavailable():
    with socket.socket() as silent, socket.socket() as closed:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never answers
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connection refused
        for port in (silent.getsockname()[1], closed.getsockname()[1]):
            provider = StripeProvider(stripe_settings(f"http://127.0.0.1:{port}"),
                                      http_client=RecordingClient(timeout=0.3))
            with pytest.raises(ProviderUnavailable):
                provider.create_payment(a_checkout())
            with pytest.raises(ProviderUnavailable):
                provider.fetch_status("pi_whatever")


@pytest.mark.parametrize(("status", "error"), [
    (500, {"type": "api_error", "message": "An unknown error occurred"}),
    (429, {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}),
    (401, {"type": "invalid_request_error", "message": "Invalid API Key provided"}),
])
def test_stripe_errors_that_say_nothing_about_the_payment_are_provider_unavailable(status, error):
    transport = CannedStripe({("POST", "/v1/payment_intents"): (status, {"error": error}),
                              ("GET", "/v1/payment_intents/pi_1"): (status, {"error": error})})
    provider = StripeProvider(stripe_settings(None), http_client=transport)
    with pytest.raises(ProviderUnavailable):
        provider.create_payment(a_checkout())
    with pytest.raises(ProviderUnavailable):
        provider.fetch_status("pi_1")


def test_a_test_card_confirmed_in_stripe_js_succeeds(provider, stripe_js):
    ref = paid_intent(provider, stripe_js, amount=1000)
    status = provider.fetch_status(ref)
    assert (status.ref, status.status, status.amount_minor, status.currency, status.failure) == (
        ref, "succeeded", 1000, "EUR", None)


def test_a_declined_card_is_failed_with_the_decline_code(provider, stripe_js):
    ref = provider.create_payment(a_checkout()).ref
    with pytest.raises(stripe.CardError, match="declined"):  # Stripe.js shows the payer the decline
        stripe_js.confirm_card(ref, DECLINED)
    status = provider.fetch_status(ref)
    assert (status.status, status.failure, status.amount_minor, status.currency) == (
        "failed", "card_declined", 1000, "EUR")


@pytest.mark.parametrize(("passed", "outcome", "failure"), [(True, "succeeded", None),
                                                             (False, "failed", "authentication_failed")])
def test_3d_secure_is_pending_until_the_payer_answers(provider, stripe_js, passed, outcome, failure):
    created = provider.create_payment(a_checkout())
    assert stripe_js.confirm_card(created.ref, THREE_D_SECURE)["status"] == "requires_action"
    assert provider.fetch_status(created.ref).status == "pending"
    stripe_js.authenticate(created.ref, created.next_action["client_secret"], success=passed)
    status = provider.fetch_status(created.ref)
    assert (status.status, status.failure) == (outcome, failure)


def test_full_and_partial_refunds(provider, stripe_js):
    partial = paid_intent(provider, stripe_js)
    first = provider.refund(partial, amount_minor=300, currency="EUR", idempotency_key="refund-1")
    rest = provider.refund(partial, amount_minor=700, currency="EUR", idempotency_key="refund-2")
    assert (first.status, rest.status) == ("succeeded", "succeeded")
    assert first.ref.startswith("re_") and first.ref != rest.ref
    assert sorted((r["amount"], r["currency"]) for r in stripe_js.refunds(partial)) == [(300, "eur"), (700, "eur")]
    whole = paid_intent(provider, stripe_js, amount=500)
    assert provider.refund(whole, amount_minor=500, currency="eur", idempotency_key="refund-3").status == "succeeded"
    assert [r["amount"] for r in stripe_js.refunds(whole)] == [500]


def test_a_refund_carries_its_own_idempotency_key(localstripe, stripe_js):
    transport = RecordingClient()
    provider = StripeProvider(stripe_settings(localstripe.url), http_client=transport)
    ref = paid_intent(provider, stripe_js)
    provider.refund(ref, amount_minor=200, currency="EUR", idempotency_key="refund-77")
    [sent] = [s for s in transport.sent if s.path == "/v1/refunds"]
    assert sent.headers["idempotency-key"] == "refund:refund-77"
    assert sent.params == {"payment_intent": ref, "amount": "200", "metadata[idempotency_key]": "refund-77"}


def test_refunding_a_failed_payment_or_in_another_currency_is_declined_and_refunds_nothing(provider, stripe_js):
    failed = provider.create_payment(a_checkout()).ref
    with pytest.raises(stripe.CardError, match="declined"):
        stripe_js.confirm_card(failed, DECLINED)
    with pytest.raises(ProviderDeclined):
        provider.refund(failed, amount_minor=1000, currency="EUR", idempotency_key="refund-failed")
    paid = paid_intent(provider, stripe_js)
    with pytest.raises(ProviderDeclined):
        provider.refund(paid, amount_minor=1000, currency="USD", idempotency_key="refund-usd")
    assert stripe_js.refunds(paid) == []


def test_cancel_closes_an_unpaid_payment_intent_and_a_paid_one_says_it_was_paid(provider, stripe_js):
    unpaid = provider.create_payment(a_checkout()).ref
    assert provider.fetch_status(unpaid).status == "pending"  # however old: Stripe never expires it by itself
    assert provider.cancel(unpaid) == ProviderStatus(unpaid, "canceled")
    assert stripe_js.intent(unpaid)["status"] == "canceled"
    assert provider.cancel(unpaid) == ProviderStatus(unpaid, "canceled")  # again: Stripe refuses, the intent says
    with pytest.raises(stripe.InvalidRequestError):  # nobody can pay it any more
        stripe_js.confirm_card(unpaid, VISA)
    paid = paid_intent(provider, stripe_js, amount=1500)
    assert provider.cancel(paid) == ProviderStatus(paid, "succeeded", 1500, "EUR", None)
    assert stripe_js.intent(paid)["status"] == "succeeded"
    assert provider.cancel("pi_doesnotexist").status == "unknown"


def test_a_payment_stripe_does_not_know_is_unknown(provider):
    assert provider.fetch_status("pi_doesnotexist").status == "unknown"


def test_without_an_api_key_nothing_is_called_and_the_provider_is_unavailable():
    provider = StripeProvider(stripe_settings(None, stripe_api_key=None))
    with pytest.raises(ProviderUnavailable):
        provider.create_payment(a_checkout())
    with pytest.raises(ProviderUnavailable):
        StripeProvider(stripe_settings(None, stripe_publishable_key=None)).create_payment(a_checkout())


def test_the_router_builds_the_stripe_adapter(db, settings):
    adapter = provider_named("stripe", db, settings)
    assert isinstance(adapter, StripeProvider) and adapter.name == "stripe"


# -- WeChat Pay and Alipay (canned transport: localstripe has neither) --------------------------------------------

WECHAT_QR = {"data": "weixin://wxpay/bizpayurl?pr=Xk9zq2Wzz",
             "hosted_instructions_url": "https://pay.stripe.com/wechat_pay/instructions/test_YWNjdF8x",
             "image_data_url": "data:image/png;base64,iVBORw0KGgo=",
             "image_url_png": "https://qr.stripe.com/test_YWNjdF8x.png",
             "image_url_svg": "https://qr.stripe.com/test_YWNjdF8x.svg"}
ALIPAY_URL = "https://hooks.stripe.com/redirect/authenticate/src_1Test?client_secret=src_client_secret_x"


def test_wechat_pay_is_confirmed_at_once_and_shows_stripes_qr_code():
    checkout = a_checkout("wechat_pay")
    answer = payment_intent("pi_3Wechat", status="requires_action", attempt_id=checkout.attempt_id,
                            payment_method_types=["wechat_pay"], next_action={
                                "type": "wechat_pay_display_qr_code", "wechat_pay_display_qr_code": WECHAT_QR})
    transport = CannedStripe({("POST", "/v1/payment_intents"): (200, answer)})
    created = StripeProvider(stripe_settings(None), http_client=transport).create_payment(checkout)
    [sent] = transport.sent
    assert sent.headers["idempotency-key"] == checkout.attempt_id
    assert sent.params == {
        "amount": "1000", "currency": "eur", "metadata[attempt_id]": checkout.attempt_id,
        "metadata[description]": checkout.description, "payment_method_types[0]": "wechat_pay",
        "payment_method_data[type]": "wechat_pay", "confirm": "true",
        "return_url": f"{PUBLIC_URL}/pay/{checkout.attempt_id}", "payment_method_options[wechat_pay][client]": "web"}
    assert created.ref == "pi_3Wechat"
    action = created.next_action
    assert (action["type"], action["method"], action["qr_data"], action["url"]) == (
        "qr", "wechat_pay", WECHAT_QR["data"], WECHAT_QR["hosted_instructions_url"])
    assert action["image"].startswith("data:image/svg+xml")  # drawn here from the QR data, no image fetched


def test_alipay_is_confirmed_at_once_and_redirects_to_alipay():
    checkout = a_checkout("alipay")
    answer = payment_intent("pi_3Alipay", status="requires_action", payment_method_types=["alipay"], next_action={
        "type": "alipay_handle_redirect", "alipay_handle_redirect": {
            "native_data": None, "native_url": None, "return_url": f"{PUBLIC_URL}/pay/{checkout.attempt_id}",
            "url": ALIPAY_URL}})
    transport = CannedStripe({("POST", "/v1/payment_intents"): (200, answer)})
    created = StripeProvider(stripe_settings(None), http_client=transport).create_payment(checkout)
    [sent] = transport.sent
    assert (sent.params["payment_method_types[0]"], sent.params["payment_method_data[type]"],
            sent.params["confirm"], sent.params["return_url"]) == (
        "alipay", "alipay", "true", f"{PUBLIC_URL}/pay/{checkout.attempt_id}")
    assert "payment_method_options[wechat_pay][client]" not in sent.params
    assert created.next_action == {"type": "redirect", "url": ALIPAY_URL}


def test_a_redirect_to_url_next_action_is_followed_too():
    answer = payment_intent("pi_3R", status="requires_action", next_action={
        "type": "redirect_to_url", "redirect_to_url": {"return_url": "x", "url": "https://stripe.example/auth"}})
    transport = CannedStripe({("POST", "/v1/payment_intents"): (200, answer)})
    created = StripeProvider(stripe_settings(None), http_client=transport).create_payment(a_checkout("alipay"))
    assert created.next_action == {"type": "redirect", "url": "https://stripe.example/auth"}


def test_a_refused_wallet_payment_is_declined():
    error = {"type": "card_error", "code": "payment_method_provider_decline", "message": "The payment was declined."}
    transport = CannedStripe({("POST", "/v1/payment_intents"): (402, {"error": error})})
    with pytest.raises(ProviderDeclined) as refused:
        StripeProvider(stripe_settings(None), http_client=transport).create_payment(a_checkout("wechat_pay"))
    assert refused.value.details["failure"] == "payment_method_provider_decline"
    invalid = {"type": "invalid_request_error", "code": "payment_intent_invalid_currency", "message": "Currency."}
    transport = CannedStripe({("POST", "/v1/payment_intents"): (400, {"error": invalid})})
    with pytest.raises(ProviderDeclined):
        StripeProvider(stripe_settings(None), http_client=transport).create_payment(a_checkout("alipay"))


def test_methods_stripe_does_not_collect_here_are_declined_before_any_call():
    transport = CannedStripe({})
    with pytest.raises(ProviderDeclined):
        StripeProvider(stripe_settings(None), http_client=transport).create_payment(a_checkout("bank_transfer"))
    assert transport.sent == []


# -- webhooks signed with the SDK's helper -------------------------------------------------------------------------

def parse(evt: dict, *, secret: str = SECRET, at: int | None = None) -> ProviderEvent:
    body = body_of(evt)
    return StripeProvider(stripe_settings(None)).parse_webhook(body, sign(body, secret, at))


FAILED_INTENT = payment_intent(status="requires_payment_method", last_payment_error={
    "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
    "message": "Your card has insufficient funds."})


@pytest.mark.parametrize(("type_", "obj", "expected"), [
    ("payment_intent.succeeded", payment_intent(), (SUCCEEDED, "pi_3Test", 1000, "EUR", None)),
    ("payment_intent.payment_failed", FAILED_INTENT, (FAILED, "pi_3Test", 1000, "EUR", "card_declined")),
    ("payment_intent.payment_failed", payment_intent(status="requires_payment_method", last_payment_error={
        "type": "card_error", "decline_code": "generic_decline"}), (FAILED, "pi_3Test", 1000, "EUR", "generic_decline")),
    ("payment_intent.payment_failed", payment_intent(status="requires_payment_method", last_payment_error={
        "type": "invalid_request_error", "code": "payment_intent_authentication_failure"}),
     (FAILED, "pi_3Test", 1000, "EUR", "authentication_failed")),
    ("payment_intent.canceled", payment_intent(status="canceled", cancellation_reason="abandoned"),
     (FAILED, "pi_3Test", 1000, "EUR", "canceled")),
    ("payment_intent.requires_action", payment_intent(status="requires_action", next_action={
        "type": "use_stripe_sdk", "use_stripe_sdk": {}}), (PENDING, "pi_3Test", 1000, "EUR", None)),
    ("payment_intent.processing", payment_intent(status="processing"), (PENDING, "pi_3Test", 1000, "EUR", None)),
    ("charge.refunded", charge(refunded=300), (REFUNDED, "pi_3Test", 300, "EUR", None)),
    ("charge.refunded", charge(refunded=1000, currency="cny"), (REFUNDED, "pi_3Test", 1000, "CNY", None)),
    ("charge.dispute.created", dispute(amount=1000), (DISPUTED, "pi_3Test", 1000, "EUR", "fraudulent")),
])
def test_signed_events_map_to_simkeeps_event_types(type_, obj, expected):
    evt = event(type_, obj, event_id="evt_1Map")
    parsed = parse(evt)
    assert (parsed.type, parsed.payment_ref, parsed.amount_minor, parsed.currency, parsed.failure) == expected
    assert parsed.event_id == "evt_1Map"
    assert parsed.raw["type"] == type_ and "client_secret" not in parsed.raw["data"]["object"]


def test_a_success_is_the_amount_received():
    parsed = parse(event("payment_intent.succeeded", payment_intent(amount=1000, amount_received=900)))
    assert parsed.amount_minor == 900  # the service then sends the attempt to review, never credits 1000


def test_unknown_event_types_keep_their_own_type():
    parsed = parse(event("payment_intent.created", payment_intent(status="requires_payment_method")))
    assert (parsed.type, parsed.payment_ref) == ("payment_intent.created", "pi_3Test")
    parsed = parse(event("charge.dispute.closed", dispute()))
    assert (parsed.type, parsed.payment_ref) == ("charge.dispute.closed", "pi_3Test")


def store(db, parsed: ProviderEvent) -> bool:
    with db.transaction() as session:
        return payments.store_event(session, provider="stripe", event=parsed, now=now())


@pytest.mark.parametrize("times", [1, 2, 10])
def test_the_same_event_delivered_1_2_or_10_times_is_stored_once(db, times):
    evt = event("payment_intent.succeeded", payment_intent())
    body = body_of(evt)
    provider = StripeProvider(stripe_settings(None))
    # Stripe re-signs each delivery (a new timestamp); the body and the event id stay the same.
    stored = [store(db, provider.parse_webhook(body, sign(body, SECRET, int(time.time()) - n))) for n in range(times)]
    assert stored == [True] + [False] * (times - 1)
    assert count(db, InboxEvent) == 1


def test_forged_replayed_or_reserialised_webhooks_are_refused_and_nothing_is_stored(db):
    provider = StripeProvider(stripe_settings(None))
    evt = event("payment_intent.succeeded", payment_intent())
    body = body_of(evt)
    refused = [
        (body, sign(body, SECRET, int(time.time()) - 301)),  # replayed beyond the 300 s tolerance
        (body, sign(body, "whsec_wrong")),  # forged: another secret
        (json.dumps(evt, separators=(",", ":")).encode(), sign(body, SECRET)),  # re-serialised after signing
        (json.dumps(evt, indent=2, sort_keys=True).encode(), sign(body, SECRET)),
        (body.replace(b'"amount": 1000', b'"amount": 100000'), sign(body, SECRET)),  # tampered
        (body, {}),  # no signature
        (body, {"stripe-signature": "t=oops,v1=nothing"}),
        (body, {"stripe-signature": sign(body, SECRET)["stripe-signature"].replace("v1=", "v0=")}),
        (b"not json", sign(b"not json", SECRET)),  # signed but not an event
        (b'{"id": "evt_1"}', sign(b'{"id": "evt_1"}', SECRET)),
        (b"\xff\xfe", {"stripe-signature": "t=1,v1=00"}),  # not UTF-8
    ]
    for raw, headers in refused:
        with pytest.raises(WebhookRejected):
            provider.parse_webhook(raw, headers)
    with pytest.raises(WebhookRejected):  # no secret configured: nothing can be verified
        StripeProvider(stripe_settings(None, stripe_webhook_secret=None)).parse_webhook(body, sign(body, SECRET))
    assert count(db, InboxEvent) == 0
    assert provider.parse_webhook(body, sign(body, SECRET, int(time.time()) - 290)).event_id == evt["id"]


def test_the_webhook_endpoint_stores_a_signed_event_and_refuses_a_forged_one(client, db):
    evt = event("payment_intent.succeeded", payment_intent())
    body = body_of(evt)
    answer = client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": sign(body, SECRET)[
        "stripe-signature"], "Content-Type": "application/json"})
    assert (answer.status_code, answer.json()) == (200, {"received": True, "duplicate": False})
    forged = client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": sign(body, "whsec_x")[
        "stripe-signature"], "Content-Type": "application/json"})
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "webhook_rejected"
    assert count(db, InboxEvent) == 1


# -- end to end: attempt -> localstripe -> signed event -> inbox -> worker -> one credit ----------------------------

def start(db, provider: StripeProvider, *, key: str = "checkout-1", offer_id: str = "fr-orange-mobicarte-10"):
    """The portal's confirm step: record the attempt, create the PaymentIntent, record what Stripe said."""
    with db.transaction() as session:
        line, operator, offer = lines.lock_live_line(session, MSISDN, offer_id)
        attempt, _ = payments.start_checkout(session, checkout_key=key, line=line, operator=operator, offer=offer,
                                             method="card", provider=provider.name, language="fr", now=now())
    created = provider.create_payment(Checkout(str(attempt.id), attempt.amount_minor, attempt.currency, "card",
                                               "Orange Mobicarte", f"/pay/{attempt.id}", "fr"))
    with db.transaction() as session:
        payments.record_created(session, attempt.id, created, now=now())
    return attempt.id, created


def attempt_of(db, attempt_id) -> PaymentAttempt:
    with db.transaction(write=False) as session:
        return session.get(PaymentAttempt, attempt_id)


def inbox_refs(db) -> set[str]:
    with db.transaction(write=False) as session:
        return {e.payload["ref"] for e in session.scalars(select(InboxEvent))}


def deliver(db, provider: StripeProvider, evt: dict) -> bool:
    body = body_of(evt)
    return store(db, provider.parse_webhook(body, sign(body, SECRET)))


def assert_credited_once(db, attempt_id, amount: int = 1000) -> None:
    attempt = attempt_of(db, attempt_id)
    assert (attempt.status, attempt.failure_reason) == ("succeeded", None)
    assert view(db).credit.minor == amount
    assert count(db, TopUp) == 1
    with db.transaction(write=False) as session:
        report = ledger.verify(session)
    assert report.ok, report.problems


@pytest.mark.parametrize("seed", range(4))
def test_a_stripe_payment_credits_once_however_often_and_in_whatever_order_its_events_arrive(
        db, settings, stripe_js, seed):
    make_line(db, now=now())
    provider = StripeProvider(settings)
    attempt_id, created = start(db, provider)
    # The payer: 3-D Secure asked, then passed; Stripe sends requires_action, then succeeded.
    assert stripe_js.confirm_card(created.ref, THREE_D_SECURE)["status"] == "requires_action"
    requires_action = event("payment_intent.requires_action", stripe_js.intent(created.ref))
    stripe_js.authenticate(created.ref, created.next_action["client_secret"], success=True)
    succeeded = event("payment_intent.succeeded", stripe_js.intent(created.ref))
    deliveries = [succeeded] * 10 + [requires_action] * 3
    random.Random(seed).shuffle(deliveries)
    stored = [deliver(db, provider, evt) for evt in deliveries]
    assert stored.count(True) == 2
    assert process_inbox(db, settings) == 2
    assert_credited_once(db, attempt_id)
    for evt in deliveries:  # all of it again, after the credit
        assert deliver(db, provider, evt) is False
    assert process_inbox(db, settings) == 0
    assert_credited_once(db, attempt_id)


def test_a_failure_before_a_success_still_credits_and_a_late_failure_changes_nothing(db, settings, stripe_js):
    """Stripe.js lets the payer try another card on the same PaymentIntent after a decline. localstripe cannot
    confirm a PaymentIntent twice, so the success event of that second try is the signed, documented shape."""
    make_line(db, now=now())
    provider = StripeProvider(settings)
    attempt_id, created = start(db, provider)
    with pytest.raises(stripe.CardError, match="declined"):
        stripe_js.confirm_card(created.ref, DECLINED)
    failed = event("payment_intent.payment_failed", stripe_js.intent(created.ref))
    deliver(db, provider, failed)
    process_inbox(db, settings)
    assert (attempt_of(db, attempt_id).status, attempt_of(db, attempt_id).failure_reason) == ("failed", "card_declined")
    assert view(db).credit.minor == 0
    # The payer tries another card on the same PaymentIntent (Stripe.js allows it): the success still counts.
    paid = {**stripe_js.intent(created.ref), "status": "succeeded", "last_payment_error": None,
            "amount_received": 1000}
    deliver(db, provider, event("payment_intent.succeeded", paid))
    deliver(db, provider, {**failed, "id": "evt_late_failure"})
    process_inbox(db, settings)
    assert_credited_once(db, attempt_id)


def test_a_declined_card_moves_nothing(db, settings, stripe_js):
    make_line(db, now=now())
    provider = StripeProvider(settings)
    attempt_id, created = start(db, provider)
    before = snapshot(db)["balances"]
    with pytest.raises(stripe.CardError, match="declined"):
        stripe_js.confirm_card(created.ref, DECLINED)
    for _ in range(3):
        deliver(db, provider, event("payment_intent.payment_failed", stripe_js.intent(created.ref),
                                    event_id="evt_1Declined"))
    process_inbox(db, settings)
    assert attempt_of(db, attempt_id).status == "failed"
    assert snapshot(db)["balances"] == before
    assert count(db, TopUp) == 0


def test_a_refund_through_simkeep_reaches_localstripe_and_its_events_are_told_apart_from_a_dispute(
        db, settings, stripe_js):
    """A partial refund goes through simkeep (simkeep.payment.tasks.refund -> StripeProvider.refund -> localstripe);
    Stripe's charge.refunded for it is recognised as ours. A refund made in Stripe's dashboard (more than simkeep
    refunded) and a dispute wait for a person. charge.refunded and charge.dispute.created are signed events:
    localstripe does not emit them."""
    make_line(db, now=now())
    provider = StripeProvider(settings)
    attempt_id, created = start(db, provider)
    stripe_js.confirm_card(created.ref, VISA)
    deliver(db, provider, event("payment_intent.succeeded", stripe_js.intent(created.ref)))
    process_inbox(db, settings)
    assert_credited_once(db, attempt_id)
    refund = refund_through_simkeep(db, settings, attempt_id=attempt_id, amount_minor=400, actor="staff:test",
                                    reason="customer asked", idempotency_key="refund-e2e")
    assert (refund.status, refund.amount_minor) == ("succeeded", 400)
    assert [(r["id"], r["amount"]) for r in stripe_js.refunds(created.ref)] == [(refund.provider_ref, 400)]
    assert view(db).credit.minor == 600
    ours = event("charge.refunded", charge(created.ref, refunded=400))
    assert [deliver(db, provider, ours) for _ in range(3)] == [True, False, False]
    process_inbox(db, settings)
    assert attempt_of(db, attempt_id).status == "succeeded"  # nothing more to decide: simkeep made this refund
    deliver(db, provider, event("charge.refunded", charge(created.ref, refunded=1000)))  # from Stripe's dashboard
    deliver(db, provider, event("charge.dispute.created", dispute(created.ref)))
    process_inbox(db, settings)
    assert attempt_of(db, attempt_id).status == "review"
    with db.transaction(write=False) as session:
        rows = [(e.type, e.payload["ref"], e.payload["amount_minor"]) for e in session.scalars(
            select(InboxEvent).where(InboxEvent.type != SUCCEEDED))]
    assert sorted(rows) == [(DISPUTED, created.ref, 1000), (REFUNDED, created.ref, 400), (REFUNDED, created.ref, 1000)]
    assert view(db).credit.minor == 600  # nothing taken back automatically
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok


def test_localstripes_own_signed_webhooks_through_the_endpoint_credit_once(db, settings, localstripe, live_server,
                                                                            stripe_js):
    """Real deliveries: localstripe signs its events with the endpoint's secret and POSTs them to /webhooks/stripe."""
    localstripe.send_webhooks_to(f"{live_server}/webhooks/stripe", SECRET)
    make_line(db, now=now())
    provider = StripeProvider(settings)
    paid_id, paid = start(db, provider, key="paid")
    declined_id, declined = start(db, provider, key="declined", offer_id="fr-orange-mobicarte-5")
    stripe_js.confirm_card(paid.ref, VISA)
    with pytest.raises(stripe.CardError, match="declined"):
        stripe_js.confirm_card(declined.ref, DECLINED)
    deadline = time.monotonic() + 15
    while not {paid.ref, declined.ref} <= inbox_refs(db):  # (earlier tests' last events may arrive too: unknown refs)
        assert time.monotonic() < deadline, "localstripe's webhooks did not arrive"
        time.sleep(0.1)
    process_inbox(db, settings)
    with db.transaction(write=False) as session:
        mine = {(e.type, e.payload["ref"]) for e in session.scalars(select(InboxEvent))
                if e.payload["ref"] in (paid.ref, declined.ref)}
    assert mine == {(SUCCEEDED, paid.ref), (FAILED, declined.ref)}
    assert_credited_once(db, paid_id)
    assert (attempt_of(db, declined_id).status, attempt_of(db, declined_id).failure_reason) == (
        "failed", "card_declined")


# -- the payer's pages ---------------------------------------------------------------------------------------------

def render(template: str, lang: str = "fr", **context) -> str:
    return i18n.environment(lang).get_template(template).render(csrf_token="t", **context)


def test_the_card_page_loads_stripe_js_from_the_configured_base_with_the_client_secret(provider):
    checkout = a_checkout()
    created = provider.create_payment(checkout)
    attempt = PaymentAttempt(id=uuid.UUID(checkout.attempt_id), amount_minor=1000, currency="EUR", status="pending",
                             method="card", next_action=created.next_action)
    html = render("portal/action_stripe_js.html", attempt=attempt, action=created.next_action)
    assert f'<script src="{provider.js_url}"></script>' in html
    assert f'data-client-secret="{created.next_action["client_secret"]}"' in html
    assert f'data-publishable-key="{PK}"' in html
    assert f'data-return-url="{PUBLIC_URL}/pay/{checkout.attempt_id}"' in html
    assert "Payer 10,00\xa0€" in html
    assert "4242" not in html and 'name="card' not in html  # no card field of simkeep's own: Stripe.js owns it
    done = render("portal/action_stripe_js.html", attempt=PaymentAttempt(
        id=attempt.id, amount_minor=1000, currency="EUR", status="succeeded", method="card"), action=created.next_action)
    assert "data-client-secret" not in done and f"/pay/{checkout.attempt_id}" in done


def test_the_wechat_pay_page_shows_the_qr_code_and_follows_the_outcome():
    checkout = a_checkout("wechat_pay")
    answer = payment_intent("pi_3Wechat", status="requires_action", next_action={
        "type": "wechat_pay_display_qr_code", "wechat_pay_display_qr_code": WECHAT_QR})
    created = StripeProvider(stripe_settings(None), http_client=CannedStripe(
        {("POST", "/v1/payment_intents"): (200, answer)})).create_payment(checkout)
    attempt = PaymentAttempt(id=uuid.UUID(checkout.attempt_id), amount_minor=1000, currency="EUR", status="pending",
                             method="wechat_pay", next_action=created.next_action)
    html = render("portal/action_qr.html", attempt=attempt, action=created.next_action, poll=result.POLL_OTHERS)
    assert f'src="{created.next_action["image"]}"' in html
    assert "Scannez ce code avec l'application WeChat Pay pour payer." in html
    assert f'data-poll="/pay/{checkout.attempt_id}/status"' in html
    assert WECHAT_QR["hosted_instructions_url"] in html


@pytest.fixture(scope="module")
def chromium(playwright):
    """Debian's Chromium (never a downloaded one), as tests/browser uses it."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
        "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
    yield browser
    browser.close()


@pytest.mark.parametrize("passed", [True, False])
def test_the_card_page_answers_3d_secure_in_a_browser_with_localstripes_stripe_js(
        provider, stripe_js, chromium, passed):
    """Chromium loads the page with localstripe's Stripe.js; its 3-D Secure dialog is answered like a payer would.

    localstripe's Stripe.js cannot create a PaymentMethod from its card element, so the card is attached and
    confirmed first (StripeJsStandIn); everything after that, including the return to simkeep, is the page's own."""
    checkout = a_checkout()
    created = provider.create_payment(checkout)
    stripe_js.confirm_card(created.ref, THREE_D_SECURE)
    attempt = PaymentAttempt(id=uuid.UUID(checkout.attempt_id), amount_minor=1000, currency="EUR", status="pending",
                             method="card", next_action=created.next_action)
    html = render("portal/action_stripe_js.html", "en", attempt=attempt, action=created.next_action)
    card_js = (Path(simkeep.web.__file__).parent / "static" / "stripe-card.js").read_text("utf-8")
    with serve({"/action": html, "/static/stripe-card.js": card_js}) as base:
        page = chromium.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # The return address is the deployment's public one; answer it here.
        page.route(f"{PUBLIC_URL}/**", lambda route: route.fulfill(
            status=200, content_type="text/html", body="<!doctype html><title>result</title><p id=result>back</p>"))
        page.goto(f"{base}/action")
        page.locator("#stripe-card-element input").first.wait_for()
        page.locator("#stripe-pay").click()
        page.get_by_role("button", name="Complete authentication" if passed else "Fail authentication").click()
        page.wait_for_url(f"{PUBLIC_URL}/pay/{checkout.attempt_id}")
        assert page.locator("#result").inner_text() == "back"
        page.close()
    assert errors == []
    status = provider.fetch_status(created.ref)
    assert (status.status, status.failure) == (("succeeded", None) if passed else ("failed", "authentication_failed"))


@contextmanager
def serve(pages: dict[str, str]) -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 for fixed pages; yields its base address."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            html = pages.get(path)
            data = (html or "not found").encode()
            self.send_response(200 if html else 404)
            self.send_header("Content-Type", "text/javascript" if path.endswith(".js") else "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_in_production_stripe_js_comes_from_stripe_and_the_api_base_is_stripes():
    provider = StripeProvider(stripe_settings(None))
    assert provider.js_url == "https://js.stripe.com/v3/"
    assert provider.client._requestor._options.base_addresses["api"] == "https://api.stripe.com"
