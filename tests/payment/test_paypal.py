"""PayPal adapter against a scripted PayPal (httpx.MockTransport) answering with the shapes of PayPal's docs."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from simkeep.config import Settings
from simkeep.core.errors import InvalidAmount
from simkeep.ledger import service as ledger
from simkeep.line import service as lines
from simkeep.main import create_app
from simkeep.payment import service as payments
from simkeep.payment.models import InboxEvent, PaymentAttempt
from simkeep.payment.providers import paypal
from simkeep.payment.providers.base import (
    DISPUTED,
    FAILED,
    PENDING,
    REFUNDED,
    SUCCEEDED,
    Checkout,
    ProviderDeclined,
    ProviderStatus,
    ProviderUnavailable,
    RefundResult,
    WebhookRejected,
)
from simkeep.payment.providers.paypal import PayPalProvider, from_paypal, paypal_value
from simkeep.payment.tasks import process_inbox
from simkeep.receipt.models import Receipt
from simkeep.topup.models import TopUp
from tests.conftest import TEST_SECRET
from tests.factories.lines import make_line, view
from tests.factories.payments import attempt_status, now
from tests.factories.snapshot import count, snapshot
from tests.payment import paypal_shapes as shapes
from tests.payment.paypal_fake import FakePayPal

ORDER = shapes.ORDER_ID
ORDER_PATH = f"/v2/checkout/orders/{ORDER}"
CAPTURE_PATH = f"{ORDER_PATH}/capture"
REFUND_PATH = f"/v2/payments/captures/{shapes.CAPTURE_ID}/refund"
VERIFY_PATH = "/v1/notifications/verify-webhook-signature"
ATTEMPT = "0b7f4a52-3c1e-4d7a-9f6e-2a51c8d0e9b3"


def paypal_settings(**extra) -> Settings:
    return Settings(paypal_client_id="id", paypal_client_secret="secret", paypal_webhook_id="WH-1",
                    public_url="http://127.0.0.1:8000", **extra)


@pytest.fixture
def fake() -> FakePayPal:
    return FakePayPal()


@pytest.fixture
def provider(fake) -> PayPalProvider:
    return PayPalProvider(paypal_settings(), transport=fake.transport)


def a_checkout(*, amount_minor=1000, currency="EUR", language="fr") -> Checkout:
    return Checkout(attempt_id=ATTEMPT, amount_minor=amount_minor, currency=currency, method="paypal",
                    description="Orange Mobicarte +33612345678", return_url=f"/pay/{ATTEMPT}", language=language)


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("The read operation timed out", request=request)


def deliver(provider, event: dict, headers=None) -> tuple[bytes, object]:
    body = json.dumps(event, ensure_ascii=False).encode()
    return body, provider.parse_webhook(body, dict(shapes.HEADERS if headers is None else headers))


# -- token ----------------------------------------------------------------------------------------------------------

def test_one_token_serves_several_requests(fake, provider):
    fake.on("POST", "/v2/checkout/orders", (201, shapes.order_created()))
    fake.on("GET", ORDER_PATH, (200, shapes.order(status="APPROVED")))
    fake.on("POST", CAPTURE_PATH, (201, shapes.completed_order()))
    provider.create_payment(a_checkout())
    provider.fetch_status(ORDER)
    provider.capture(ORDER, "capture-1")
    [token_call] = fake.sent("POST", "/v1/oauth2/token")
    assert token_call.headers["authorization"] == fake.basic
    assert token_call.content == b"grant_type=client_credentials"
    assert fake.tokens_issued == ["A21AA-token-1"]
    assert {r.headers["authorization"] for r in fake.requests[1:]} == {"Bearer A21AA-token-1"}


def test_the_token_is_renewed_shortly_before_it_expires(fake, provider, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(paypal, "_now", lambda: clock[0])
    fake.on("GET", ORDER_PATH, (200, shapes.order(status="APPROVED")))
    provider.fetch_status(ORDER)
    clock[0] += 32400 - paypal.TOKEN_MARGIN_SECONDS - 1
    provider.fetch_status(ORDER)
    assert fake.tokens_issued == ["A21AA-token-1"]
    clock[0] += 1
    provider.fetch_status(ORDER)
    assert fake.tokens_issued == ["A21AA-token-1", "A21AA-token-2"]
    assert fake.requests[-1].headers["authorization"] == "Bearer A21AA-token-2"


def test_a_token_paypal_no_longer_accepts_is_replaced_once(fake, provider):
    fake.on("GET", ORDER_PATH, (200, shapes.completed_order()))
    provider.fetch_status(ORDER)
    fake.revoked.add("A21AA-token-1")
    assert provider.fetch_status(ORDER).status == "succeeded"
    assert fake.tokens_issued == ["A21AA-token-1", "A21AA-token-2"]
    fake.revoked |= {"A21AA-token-2", "A21AA-token-3"}
    with pytest.raises(ProviderUnavailable):  # renewed once, still refused: never read as a decline
        provider.capture(ORDER, "capture-1")
    assert fake.tokens_issued[-1] == "A21AA-token-3"
    assert len(fake.sent("POST", CAPTURE_PATH)) == 2


def test_wrong_credentials_or_no_configuration_mean_unavailable(fake):
    wrong = PayPalProvider(Settings(paypal_client_id="id", paypal_client_secret="nope"), transport=fake.transport)
    with pytest.raises(ProviderUnavailable):
        wrong.fetch_status(ORDER)
    unconfigured = PayPalProvider(Settings(), transport=fake.transport)
    with pytest.raises(ProviderUnavailable):
        unconfigured.create_payment(a_checkout())
    assert fake.api_calls() == []


def test_adapters_of_one_process_share_the_connection_and_token_per_account():
    one, two = PayPalProvider(paypal_settings()), PayPalProvider(paypal_settings())
    other = PayPalProvider(paypal_settings().model_copy(update={"paypal_client_secret": "rotated"}))
    assert one.api is two.api
    assert other.api is not one.api


# -- create ---------------------------------------------------------------------------------------------------------

def test_create_sends_an_idempotent_capture_order_and_redirects_to_paypal(fake, provider):
    fake.on("POST", "/v2/checkout/orders", (201, shapes.order_created()))
    created = provider.create_payment(a_checkout())
    assert created.ref == ORDER
    assert created.next_action == {"type": "redirect", "url": f"{shapes.WEB}/checkoutnow?token={ORDER}"}
    [request] = fake.sent("POST", "/v2/checkout/orders")
    assert request.headers["paypal-request-id"] == ATTEMPT
    assert request.headers["content-type"] == "application/json"
    assert fake.body(request) == {
        "intent": "CAPTURE",
        "purchase_units": [{"custom_id": ATTEMPT, "invoice_id": ATTEMPT,
                            "description": "Orange Mobicarte +33612345678",
                            "amount": {"currency_code": "EUR", "value": "10.00"}}],
        "payment_source": {"paypal": {"experience_context": {
            "return_url": f"http://127.0.0.1:8000/pay/{ATTEMPT}",
            "cancel_url": f"http://127.0.0.1:8000/pay/{ATTEMPT}?cancelled=1",
            "user_action": "PAY_NOW", "shipping_preference": "NO_SHIPPING",
            "payment_method_preference": "IMMEDIATE_PAYMENT_REQUIRED", "locale": "fr-FR"}}}}


def test_create_follows_the_approve_link_of_an_application_context_order(fake, provider):
    fake.on("POST", "/v2/checkout/orders", (201, shapes.order_created_with_application_context()))
    created = provider.create_payment(a_checkout(language="zh_CN"))
    assert created.next_action == {"type": "redirect", "url": f"{shapes.WEB}/checkoutnow?token={ORDER}"}
    [request] = fake.sent("POST", "/v2/checkout/orders")
    assert fake.body(request)["payment_source"]["paypal"]["experience_context"]["locale"] == "zh-CN"


def test_creating_twice_with_the_same_attempt_sends_the_same_request_id(fake, provider):
    fake.on("POST", "/v2/checkout/orders", (201, shapes.order_created()), (200, shapes.order_created()))
    assert provider.create_payment(a_checkout()).ref == provider.create_payment(a_checkout()).ref == ORDER
    assert [r.headers["paypal-request-id"] for r in fake.sent("POST", "/v2/checkout/orders")] == [ATTEMPT, ATTEMPT]


@pytest.mark.parametrize(("minor", "currency", "value"), [
    (1000, "EUR", "10.00"), (5, "EUR", "0.05"), (123456, "USD", "1234.56"), (1500, "JPY", "1500"),
    (150000, "HUF", "1500"), (9900, "TWD", "99"), (1234, "KWD", "1.234"), (1000, "CNY", "10.00")])
def test_amounts_use_the_currency_exponent(minor, currency, value):
    assert paypal_value(minor, currency) == value
    assert from_paypal({"currency_code": currency, "value": value}) == (minor, currency)


def test_an_amount_paypal_cannot_express_is_refused_before_calling(fake, provider):
    with pytest.raises(InvalidAmount):
        provider.create_payment(a_checkout(amount_minor=150050, currency="HUF"))
    assert fake.requests == []


def test_create_refused_or_unreachable(fake, provider):
    fake.on("POST", "/v2/checkout/orders", (422, shapes.CURRENCY_NOT_SUPPORTED))
    with pytest.raises(ProviderDeclined) as refused:
        provider.create_payment(a_checkout())
    assert refused.value.details == {"paypal_issue": "CURRENCY_NOT_SUPPORTED"}
    fake.on("POST", "/v2/checkout/orders", (503, shapes.INTERNAL_SERVER_ERROR))
    with pytest.raises(ProviderUnavailable):
        provider.create_payment(a_checkout())
    fake.on("POST", "/v2/checkout/orders", timeout)
    with pytest.raises(ProviderUnavailable):
        provider.create_payment(a_checkout())


# -- capture --------------------------------------------------------------------------------------------------------

def test_capture_after_approval_succeeds(fake, provider):
    fake.on("POST", CAPTURE_PATH, (201, shapes.completed_order()))
    assert provider.capture(ORDER, f"capture:{ATTEMPT}") == ProviderStatus(ORDER, "succeeded", 1000, "EUR")
    [request] = fake.sent("POST", CAPTURE_PATH)
    assert request.headers["paypal-request-id"] == f"capture:{ATTEMPT}"
    assert request.headers["prefer"] == "return=representation"


def test_a_declined_instrument_fails_the_capture(fake, provider):
    fake.on("POST", CAPTURE_PATH, (422, shapes.INSTRUMENT_DECLINED))
    assert provider.capture(ORDER, "capture-1") == ProviderStatus(ORDER, "failed", failure="instrument_declined")


def test_a_capture_that_times_out_is_unknown_never_failed(fake, provider):
    fake.on("POST", CAPTURE_PATH, timeout, (201, shapes.completed_order()))
    outcome = None
    with pytest.raises(ProviderUnavailable) as unknown:
        outcome = provider.capture(ORDER, "capture-1")
    assert outcome is None  # nothing was reported, in particular not "failed"
    assert unknown.value.code == "provider_unavailable"
    assert "not known" in unknown.value.message and "Nothing was charged" not in unknown.value.message
    assert fake.api_calls() == [("POST", CAPTURE_PATH)]  # no refund, no void, no second capture behind our back
    # Asking again with the same key is safe: PayPal answers with the first capture.
    assert provider.capture(ORDER, "capture-1").status == "succeeded"
    assert [r.headers["paypal-request-id"] for r in fake.sent("POST", CAPTURE_PATH)] == ["capture-1", "capture-1"]


@pytest.mark.parametrize("answer", [(500, shapes.INTERNAL_SERVER_ERROR), (503, shapes.INTERNAL_SERVER_ERROR),
                                    (429, {"name": "RATE_LIMIT_REACHED"}),
                                    httpx.ConnectError("connection refused")])
def test_a_capture_without_a_clear_answer_is_unavailable(fake, provider, answer):
    fake.on("POST", CAPTURE_PATH, answer)
    with pytest.raises(ProviderUnavailable):
        provider.capture(ORDER, "capture-1")


def test_a_pending_capture_is_pending(fake, provider):
    pending = shapes.order(captures=[shapes.capture(status="PENDING", reason="PENDING_REVIEW")])
    fake.on("POST", CAPTURE_PATH, (201, pending))
    assert provider.capture(ORDER, "capture-1") == ProviderStatus(ORDER, "pending", 1000, "EUR")


def test_a_completed_order_with_a_declined_capture_is_failed(fake, provider):
    fake.on("POST", CAPTURE_PATH, (201, shapes.order(captures=[shapes.capture(status="DECLINED")])))
    assert provider.capture(ORDER, "capture-1") == ProviderStatus(ORDER, "failed", failure="declined")


def test_capture_before_approval_is_pending_and_an_earlier_capture_is_found(fake, provider):
    fake.on("POST", CAPTURE_PATH, (422, shapes.ORDER_NOT_APPROVED))
    assert provider.capture(ORDER, "capture-1") == ProviderStatus(ORDER, "pending")
    fake.on("POST", CAPTURE_PATH, (422, shapes.ORDER_ALREADY_CAPTURED))
    fake.on("GET", ORDER_PATH, (200, shapes.completed_order()))
    assert provider.capture(ORDER, "capture-2") == ProviderStatus(ORDER, "succeeded", 1000, "EUR")


def test_a_reference_that_is_not_a_paypal_id_never_reaches_a_url(fake, provider):
    with pytest.raises(ProviderDeclined):
        provider.capture("../../v1/oauth2/token", "k")
    assert fake.requests == []


# -- status ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("order", "expected"), [
    (shapes.completed_order(), ProviderStatus(ORDER, "succeeded", 1000, "EUR")),
    (shapes.order(captures=[shapes.capture(status="PARTIALLY_REFUNDED")]), ProviderStatus(ORDER, "succeeded", 1000, "EUR")),
    (shapes.order(captures=[shapes.capture(status="PENDING", reason="PENDING_REVIEW")]),
     ProviderStatus(ORDER, "pending", 1000, "EUR")),
    (shapes.order(captures=[shapes.capture(status="DECLINED")]), ProviderStatus(ORDER, "failed", failure="declined")),
    (shapes.order(status="VOIDED"), ProviderStatus(ORDER, "failed", failure="order_voided")),
    (shapes.order(status="CREATED"), ProviderStatus(ORDER, "pending")),
    (shapes.order(status="PAYER_ACTION_REQUIRED"), ProviderStatus(ORDER, "pending")),
    (shapes.order(status="APPROVED"), ProviderStatus(ORDER, "pending")),
    (shapes.order(status="COMPLETED", captures=[]), ProviderStatus(ORDER, "unknown", failure="order_completed")),
], ids=["completed", "partially-refunded", "capture-pending", "capture-declined", "voided", "created",
        "payer-action-required", "approved", "completed-without-capture"])
def test_fetch_status_maps_the_order(fake, provider, order, expected):
    fake.on("GET", ORDER_PATH, (200, order))
    assert provider.fetch_status(ORDER) == expected


@pytest.mark.parametrize("status", ["CREATED", "PAYER_ACTION_REQUIRED"])
def test_an_order_never_approved_in_paypals_window_failed_and_an_approved_one_stays_pending(fake, provider, status):
    created = (datetime.now(UTC) - paypal.APPROVAL_WINDOW - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake.on("GET", ORDER_PATH, (200, shapes.order(status=status, create_time=created)))
    assert provider.fetch_status(ORDER) == ProviderStatus(ORDER, "failed", failure="approval_expired")
    fake.on("GET", ORDER_PATH, (200, shapes.order(status="APPROVED", create_time=created)))
    assert provider.fetch_status(ORDER) == ProviderStatus(ORDER, "pending")  # the buyer agreed: capture, or a person


@pytest.mark.parametrize(("order", "expected"), [
    (shapes.order(status="CREATED"), ProviderStatus(ORDER, "canceled")),
    (shapes.order(status="PAYER_ACTION_REQUIRED"), ProviderStatus(ORDER, "canceled")),
    (shapes.completed_order(), ProviderStatus(ORDER, "succeeded", 1000, "EUR")),
    (shapes.order(status="APPROVED"), ProviderStatus(ORDER, "pending")),
], ids=["created", "payer-action-required", "completed", "approved"])
def test_cancel_records_an_unapproved_order_closed_without_changing_anything_at_paypal(fake, provider, order,
                                                                                        expected):
    fake.on("GET", ORDER_PATH, (200, order))
    assert provider.cancel(ORDER) == expected
    assert fake.api_calls() == [("GET", ORDER_PATH)]  # Orders v2 has no cancel: an unapproved order expires there


def test_cancel_of_an_order_paypal_no_longer_knows_closes_it_and_a_timeout_is_unavailable(fake, provider):
    fake.on("GET", ORDER_PATH, (404, shapes.NOT_FOUND))
    assert provider.cancel(ORDER) == ProviderStatus(ORDER, "canceled", failure="order_not_found")
    fake.on("GET", ORDER_PATH, timeout)
    with pytest.raises(ProviderUnavailable):
        provider.cancel(ORDER)


def test_fetch_status_of_an_order_paypal_does_not_know_is_unknown(fake, provider):
    fake.on("GET", ORDER_PATH, (404, shapes.NOT_FOUND))
    assert provider.fetch_status(ORDER) == ProviderStatus(ORDER, "unknown", failure="order_not_found")


def test_fetch_status_timeout_is_unavailable(fake, provider):
    fake.on("GET", ORDER_PATH, timeout)
    with pytest.raises(ProviderUnavailable):
        provider.fetch_status(ORDER)


# -- refund ---------------------------------------------------------------------------------------------------------

def test_full_refund_goes_to_the_orders_capture(fake, provider):
    fake.on("GET", ORDER_PATH, (200, shapes.completed_order()))
    fake.on("POST", REFUND_PATH, (201, shapes.refund()))
    assert provider.refund(ORDER, amount_minor=1000, currency="EUR", idempotency_key="refund-1") == \
        RefundResult(shapes.REFUND_ID, "succeeded")
    assert fake.api_calls() == [("GET", ORDER_PATH), ("POST", REFUND_PATH)]
    [request] = fake.sent("POST", REFUND_PATH)
    assert request.headers["paypal-request-id"] == "refund-1"
    assert fake.body(request) == {"amount": {"currency_code": "EUR", "value": "10.00"}, "custom_id": "refund-1"}


def test_partial_refund_sends_its_amount_and_may_be_pending(fake, provider):
    fake.on("GET", ORDER_PATH, (200, shapes.completed_order()))
    fake.on("POST", REFUND_PATH, (201, shapes.refund(value="4.00", status="PENDING")))
    assert provider.refund(ORDER, amount_minor=400, currency="EUR", idempotency_key="refund-2") == \
        RefundResult(shapes.REFUND_ID, "pending")
    [request] = fake.sent("POST", REFUND_PATH)
    assert fake.body(request)["amount"] == {"currency_code": "EUR", "value": "4.00"}


def test_a_repeated_refund_key_reaches_paypal_even_once_fully_refunded(fake, provider):
    fake.on("GET", ORDER_PATH, (200, shapes.order(captures=[shapes.capture(status="REFUNDED")])))
    fake.on("POST", REFUND_PATH, (201, shapes.refund()))
    assert provider.refund(ORDER, amount_minor=1000, currency="EUR", idempotency_key="refund-1").status == "succeeded"
    assert fake.sent("POST", REFUND_PATH)[0].headers["paypal-request-id"] == "refund-1"


def test_refund_refused_or_unknown(fake, provider):
    fake.on("GET", ORDER_PATH, (200, shapes.order(status="APPROVED")))
    with pytest.raises(ProviderDeclined):  # nothing captured
        provider.refund(ORDER, amount_minor=1000, currency="EUR", idempotency_key="r1")
    fake.on("GET", ORDER_PATH, (200, shapes.completed_order()))
    fake.on("POST", REFUND_PATH, (422, shapes.REFUND_AMOUNT_EXCEEDED))
    with pytest.raises(ProviderDeclined) as exceeded:
        provider.refund(ORDER, amount_minor=2000, currency="EUR", idempotency_key="r2")
    assert exceeded.value.details == {"paypal_issue": "REFUND_AMOUNT_EXCEEDED"}
    fake.on("POST", REFUND_PATH, timeout)
    with pytest.raises(ProviderUnavailable):
        provider.refund(ORDER, amount_minor=1000, currency="EUR", idempotency_key="r3")


# -- webhooks -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "type_", "amount", "failure"), [
    (shapes.capture_completed_event(), SUCCEEDED, 1000, None),
    (shapes.capture_denied_event(), FAILED, 1000, "capture_denied"),
    (shapes.order_voided_event(), FAILED, 1000, "order_voided"),
    (shapes.capture_pending_event(), PENDING, 1000, None),
    (shapes.order_approved_event(), PENDING, 1000, None),
    (shapes.capture_refunded_event(value="4.00"), REFUNDED, 400, None),
    (shapes.dispute_created_event(), DISPUTED, 1000, None),
], ids=["capture-completed", "capture-denied", "order-voided", "capture-pending", "order-approved",
        "capture-refunded", "dispute-created"])
def test_a_verified_event_maps_to_simkeeps_terms(fake, provider, event, type_, amount, failure):
    fake.verify("SUCCESS")
    fake.on("GET", f"/v2/payments/captures/{shapes.CAPTURE_ID}", (200, shapes.capture()))
    _, parsed = deliver(provider, event)
    assert (parsed.event_id, parsed.type, parsed.payment_ref) == (event["id"], type_, ORDER)
    assert (parsed.amount_minor, parsed.currency, parsed.failure) == (amount, "EUR", failure)
    assert parsed.raw == event


def test_refund_and_dispute_events_name_the_order_through_their_capture(fake, provider):
    fake.verify("SUCCESS")
    fake.on("GET", f"/v2/payments/captures/{shapes.CAPTURE_ID}", (200, shapes.capture()))
    deliver(provider, shapes.capture_refunded_event())
    deliver(provider, shapes.dispute_created_event())
    assert fake.api_calls() == [("POST", VERIFY_PATH), ("GET", f"/v2/payments/captures/{shapes.CAPTURE_ID}")] * 2
    fake.on("GET", "/v2/payments/captures/9XX00000000000000", (404, shapes.NOT_FOUND))
    _, foreign = deliver(provider, shapes.dispute_created_event(capture_id="9XX00000000000000"))
    assert foreign.payment_ref == "9XX00000000000000"  # not one of simkeep's: the worker finds no payment


def test_verification_sends_paypal_the_exact_bytes_received(fake, provider):
    fake.verify("SUCCESS")
    event = shapes.capture_completed_event()
    body = json.dumps(event, ensure_ascii=False, indent=1).encode()  # spacing and "€" as PayPal sent them
    provider.parse_webhook(body, dict(shapes.HEADERS))
    [request] = fake.sent("POST", VERIFY_PATH)
    assert request.headers["authorization"] == "Bearer A21AA-token-1"
    assert request.content.endswith(b'"webhook_event": ' + body + b"}")
    assert json.loads(request.content) == {
        "auth_algo": "SHA256withRSA", "cert_url": shapes.HEADERS["paypal-cert-url"],
        "transmission_id": shapes.HEADERS["paypal-transmission-id"],
        "transmission_sig": shapes.HEADERS["paypal-transmission-sig"],
        "transmission_time": shapes.HEADERS["paypal-transmission-time"], "webhook_id": "WH-1",
        "webhook_event": event}


def test_an_event_paypal_does_not_verify_is_rejected(fake, provider):
    fake.verify("FAILURE")
    with pytest.raises(WebhookRejected):
        deliver(provider, shapes.capture_completed_event())


@pytest.mark.parametrize("missing", sorted(paypal.SIGNATURE_HEADERS.values()))
def test_an_event_without_its_transmission_headers_is_rejected_without_asking(fake, provider, missing):
    fake.verify("SUCCESS")
    headers = {k: v for k, v in shapes.HEADERS.items() if k != missing}
    with pytest.raises(WebhookRejected):
        deliver(provider, shapes.capture_completed_event(), headers)
    assert fake.requests == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": "WH-1"}', b"\xff\xfe{}", b""])
def test_an_unparseable_body_is_rejected_without_asking(fake, provider, body):
    fake.verify("SUCCESS")
    with pytest.raises(WebhookRejected):
        provider.parse_webhook(body, dict(shapes.HEADERS))
    assert fake.requests == []


@pytest.mark.parametrize("answer", [timeout, (500, shapes.INTERNAL_SERVER_ERROR),
                                    (400, {"name": "VALIDATION_ERROR", "message": "Invalid request"}),
                                    (200, {"unexpected": True})])
def test_when_paypal_cannot_verify_the_event_is_rejected(fake, provider, answer):
    fake.on("POST", VERIFY_PATH, answer)
    with pytest.raises(WebhookRejected):
        deliver(provider, shapes.capture_completed_event())


def test_without_a_configured_webhook_id_nothing_is_accepted(fake):
    unverifiable = PayPalProvider(paypal_settings().model_copy(update={"paypal_webhook_id": None}),
                                  transport=fake.transport)
    fake.verify("SUCCESS")
    with pytest.raises(WebhookRejected):
        deliver(unverifiable, shapes.capture_completed_event())
    assert fake.requests == []


def test_an_authentic_event_simkeep_does_not_act_on_keeps_its_paypal_type(fake, provider):
    fake.verify("SUCCESS")
    event = {**shapes.order_approved_event(event_id="WH-0AB"), "event_type": "CHECKOUT.ORDER.SAVED"}
    _, parsed = deliver(provider, event)
    assert (parsed.event_id, parsed.type, parsed.payment_ref) == ("WH-0AB", "CHECKOUT.ORDER.SAVED", ORDER)


# -- end to end with the database -----------------------------------------------------------------------------------

@pytest.fixture
def cfg(db, tmp_path) -> Settings:
    return paypal_settings(database_url=db.url, data_dir=tmp_path, secret_key=TEST_SECRET)


def checkout(db, provider, key="checkout-1"):
    """What the portal's confirm step does: record the attempt, create the PayPal order, record it."""
    with db.transaction() as session:
        line, operator, offer = lines.lock_live_line(session, "+33612345678", "fr-orange-mobicarte-10")
        attempt, _ = payments.start_checkout(session, checkout_key=key, line=line, operator=operator, offer=offer,
                                             method="paypal", provider="paypal", language="fr", now=now())
    created = provider.create_payment(Checkout(str(attempt.id), attempt.amount_minor, attempt.currency, "paypal",
                                               "Orange Mobicarte", f"/pay/{attempt.id}", "fr"))
    with db.transaction() as session:
        payments.record_created(session, attempt.id, created, now=now())
    return attempt


def store(db, provider, event) -> bool:
    _, parsed = deliver(provider, event)
    with db.transaction() as session:
        return payments.store_event(session, provider="paypal", event=parsed, now=now())


@pytest.fixture
def paid_setup(db, cfg, fake):
    make_line(db, now=now())
    fake.on("POST", "/v2/checkout/orders", (201, shapes.order_created()))
    fake.verify("SUCCESS")
    provider = PayPalProvider(cfg, transport=fake.transport)
    attempt = checkout(db, provider)
    return provider, attempt


@pytest.mark.parametrize("times", [1, 2, 10])
def test_a_verified_capture_credits_once_however_often_it_arrives(db, cfg, fake, paid_setup, times):
    provider, attempt = paid_setup
    with db.transaction(write=False) as session:
        assert session.get(PaymentAttempt, attempt.id).provider_ref == ORDER
    event = shapes.capture_completed_event(custom_id=str(attempt.id))
    assert [store(db, provider, event) for _ in range(times)] == [True] + [False] * (times - 1)
    assert process_inbox(db, cfg) == 1
    assert process_inbox(db, cfg) == 0
    assert attempt_status(db, attempt.id) == "succeeded"
    assert view(db).credit.minor == 1000
    assert (count(db, TopUp), count(db, Receipt), count(db, InboxEvent)) == (1, 1, 1)
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok


@pytest.mark.parametrize("order", [
    ["approved", "pending", "completed", "completed", "denied"],
    ["denied", "completed", "approved", "completed"],
    ["completed", "approved", "pending", "voided", "completed"],
])
def test_any_order_of_paypal_events_credits_exactly_once(db, cfg, fake, paid_setup, order):
    provider, attempt = paid_setup
    events = {"approved": shapes.order_approved_event(), "pending": shapes.capture_pending_event(),
              "completed": shapes.capture_completed_event(), "denied": shapes.capture_denied_event(),
              "voided": shapes.order_voided_event()}
    for name in order:
        store(db, provider, events[name])
        process_inbox(db, cfg)
    assert attempt_status(db, attempt.id) == "succeeded"
    assert view(db).credit.minor == 1000
    assert count(db, TopUp) == 1
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok


def test_a_denied_capture_moves_nothing_but_the_attempt(db, cfg, fake, paid_setup):
    provider, attempt = paid_setup
    before = snapshot(db)["balances"]
    store(db, provider, shapes.capture_denied_event())
    process_inbox(db, cfg)
    assert attempt_status(db, attempt.id) == "failed"
    assert snapshot(db)["balances"] == before
    assert count(db, TopUp) == 0


def test_through_the_webhook_endpoint_forged_events_store_nothing(db, cfg, fake, paid_setup, monkeypatch):
    """The real endpoint: raw body and headers in, PayPal's verdict decides, the inbox stores once."""
    monkeypatch.setattr(paypal, "PayPalProvider", lambda settings: PayPalProvider(settings, transport=fake.transport))
    _, attempt = paid_setup
    body = json.dumps(shapes.capture_completed_event()).encode()
    headers = {k.title(): v for k, v in shapes.HEADERS.items()}
    with TestClient(create_app(cfg, db)) as client:
        fake.verify("FAILURE")
        forged = client.post("/webhooks/paypal", content=body, headers=headers)
        assert (forged.status_code, forged.json()["error"]["code"]) == (400, "webhook_rejected")
        missing = client.post("/webhooks/paypal", content=body, headers={"Content-Type": "application/json"})
        assert missing.status_code == 400
        assert count(db, InboxEvent) == 0
        fake.verify("SUCCESS")
        answers = [client.post("/webhooks/paypal", content=body, headers=headers).json() for _ in range(3)]
    assert answers == [{"received": True, "duplicate": False}] + [{"received": True, "duplicate": True}] * 2
    assert fake.sent("POST", VERIFY_PATH)[-1].content.endswith(b'"webhook_event": ' + body + b"}")
    process_inbox(db, cfg)
    assert attempt_status(db, attempt.id) == "succeeded"
    assert view(db).credit.minor == 1000
    assert count(db, TopUp) == 1
