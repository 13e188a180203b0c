"""The Stripe adapter's saved cards and off-session charges (auto-renew), through the SDK against a canned
transport answering with Stripe's documented shapes (SetupIntent, PaymentMethod, PaymentIntent, card errors)."""

from __future__ import annotations

from simkeep.payment.providers.base import OffSessionCharge
from simkeep.payment.providers.stripe import StripeProvider
from tests.payment.stripe_fakes import CannedStripe, payment_intent
from tests.payment.test_stripe import stripe_settings

CHARGE = OffSessionCharge(idempotency_key="6f0c1b8e-0000-4000-8000-000000000001", customer_ref="cus_Test",
                          method_ref="pm_1Saved", amount_minor=1000, currency="EUR",
                          description="simkeep auto-renew +33612345678")


def provider(answers: dict) -> tuple[StripeProvider, CannedStripe]:
    transport = CannedStripe(answers)
    return StripeProvider(stripe_settings(None), http_client=transport), transport


def card_error(code: str, *, decline_code: str | None = None, status: str = "requires_payment_method") -> dict:
    return {"error": {"type": "card_error", "code": code, "decline_code": decline_code,
                      "message": "Your card was declined.",
                      "payment_intent": payment_intent("pi_3Off", status=status, attempt_id=CHARGE.idempotency_key)}}


def test_an_off_session_charge_is_confirmed_at_once_with_the_attempt_as_idempotency_key():
    answer = payment_intent("pi_3Off", attempt_id=CHARGE.idempotency_key)
    stripe, transport = provider({("POST", "/v1/payment_intents"): (200, answer)})
    status = stripe.charge_saved(CHARGE)
    assert (status.ref, status.status, status.amount_minor, status.currency) == ("pi_3Off", "succeeded", 1000, "EUR")
    [sent] = transport.sent
    assert sent.headers["idempotency-key"] == CHARGE.idempotency_key
    assert sent.params == {"amount": "1000", "currency": "eur", "customer": "cus_Test", "payment_method": "pm_1Saved",
                           "off_session": "true", "confirm": "true",
                           "metadata[attempt_id]": CHARGE.idempotency_key,
                           "metadata[description]": CHARGE.description}


def test_a_card_that_needs_its_owner_is_requires_action_and_a_decline_is_failed_with_its_code():
    stripe, _ = provider({("POST", "/v1/payment_intents"): (402, card_error("authentication_required",
                                                                              status="requires_payment_method"))})
    status = stripe.charge_saved(CHARGE)
    assert (status.ref, status.status) == ("pi_3Off", "requires_action")
    stripe, _ = provider({("POST", "/v1/payment_intents"): (402, card_error("card_declined",
                                                                              decline_code="insufficient_funds"))})
    status = stripe.charge_saved(CHARGE)
    assert (status.ref, status.status, status.failure) == ("pi_3Off", "failed", "insufficient_funds")


def test_saving_a_card_is_a_customer_and_an_off_session_setup_intent_for_stripe_js_then_its_label():
    setup = {"id": "seti_1Test", "object": "setup_intent", "client_secret": "seti_1Test_secret_x",
             "customer": "cus_Test", "status": "requires_payment_method", "usage": "off_session"}
    stripe, transport = provider({("POST", "/v1/customers"): (200, {"id": "cus_Test", "object": "customer"}),
                                  ("POST", "/v1/setup_intents"): (200, setup)})
    started = stripe.start_saving(reference="line-1", return_url="/lines/auto-renew", language="fr")
    assert started.ref == "seti_1Test"
    assert (started.next_action["type"], started.next_action["client_secret"], started.next_action["locale"]) == (
        "stripe_js_setup", "seti_1Test_secret_x", "fr")
    customer, setup_sent = transport.sent
    assert customer.headers["idempotency-key"] == "customer:line-1"
    assert (setup_sent.params["customer"], setup_sent.params["usage"], setup_sent.headers["idempotency-key"]) == (
        "cus_Test", "off_session", "setup:line-1")
    done = {**setup, "status": "succeeded", "payment_method": {
        "id": "pm_1Saved", "object": "payment_method", "type": "card",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}}}
    stripe, transport = provider({("GET", "/v1/setup_intents/seti_1Test"): (200, done)})
    saved = stripe.finish_saving("seti_1Test")
    assert (saved.customer_ref, saved.method_ref, saved.label) == ("cus_Test", "pm_1Saved", "Visa •••• 4242")
    assert transport.sent[0].params == {"expand[0]": "payment_method"}
