"""Stripe adapter: PaymentIntents for cards (entered in Stripe.js, never seen by simkeep), WeChat Pay and Alipay;
webhooks verified with the SDK on the raw body.

The only module that imports the `stripe` SDK. Every call carries an idempotency key (the attempt id for a
PaymentIntent), so the SDK's own retries and a caller's retry after a timeout never create a second charge.
A timeout or a connection error is ProviderUnavailable: the outcome is unknown and never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import segno
import stripe
from stripe._base_address import BaseAddresses
from stripe.params import PaymentIntentCreateParams, SetupIntentCreateParams

from simkeep.config import Settings
from simkeep.payment.providers.base import (
    DISPUTED,
    FAILED,
    PENDING,
    REFUNDED,
    SUCCEEDED,
    Checkout,
    MethodSetup,
    OffSessionCharge,
    ProviderDeclined,
    ProviderEvent,
    ProviderPayment,
    ProviderStatus,
    ProviderUnavailable,
    RefundResult,
    SavedRef,
    WebhookRejected,
)

JS_URL = "https://js.stripe.com/v3/"
SIGNATURE_HEADER = "stripe-signature"  # headers reach parse_webhook lower-cased
TIMEOUT = (5, 20)  # seconds to connect, seconds to wait for an answer
NETWORK_RETRIES = 1  # the SDK retries timeouts and 5xx with the same idempotency key
WALLETS = ("wechat_pay", "alipay")  # simkeep's method names are Stripe's payment method types
STRIPE_JS_LOCALE = {"zh_CN": "zh", "fr": "fr", "en": "en"}

# Stripe event type -> simkeep's normalised type. Anything else keeps its own type (the service ignores it).
EVENT_TYPES = {
    "payment_intent.succeeded": SUCCEEDED,
    "payment_intent.payment_failed": FAILED,
    "payment_intent.canceled": FAILED,
    "payment_intent.requires_action": PENDING,
    "payment_intent.processing": PENDING,
    "charge.refunded": REFUNDED,
    "charge.dispute.created": DISPUTED,
}
# Stripe failure codes -> the codes simkeep's pages explain; other codes are kept as Stripe gives them.
FAILURE_CODES = {"payment_intent_authentication_failure": "authentication_failed"}
# Refund.status -> RefundResult.status
REFUND_STATUS = {"succeeded": "succeeded", "pending": "pending", "requires_action": "pending", "failed": "failed",
                 "canceled": "failed"}


class StripeProvider:
    name = "stripe"

    def __init__(self, settings: Settings, *, http_client: stripe.HTTPClient | None = None) -> None:
        self.settings = settings
        self.webhook_secret = settings.stripe_webhook_secret
        base = settings.stripe_api_base.rstrip("/") if settings.stripe_api_base else None
        # localstripe (tests) serves its fake Stripe.js under the same base: {base}/js.stripe.com/v3/
        self.js_url = f"{base}/js.stripe.com/v3/" if base else JS_URL
        self._base = base
        self._http_client = http_client
        self._stripe: stripe.StripeClient | None = None

    # -- the API client, made on first use (a webhook needs only the signing secret) ------------------------------

    @property
    def client(self) -> stripe.StripeClient:
        if self._stripe is None:
            if not self.settings.stripe_api_key:
                raise ProviderUnavailable("Stripe is not configured (SIMKEEP_STRIPE_API_KEY).")
            addresses: BaseAddresses | None = None
            if self._base:
                addresses = {"api": self._base, "files": self._base, "connect": self._base,
                             "meter_events": self._base}
            self._stripe = stripe.StripeClient(
                self.settings.stripe_api_key, base_addresses=addresses, max_network_retries=NETWORK_RETRIES,
                http_client=self._http_client or stripe.RequestsClient(timeout=TIMEOUT))
        return self._stripe

    # -- PaymentProvider -----------------------------------------------------------------------------------------

    def create_payment(self, checkout: Checkout) -> ProviderPayment:
        if checkout.method != "card" and checkout.method not in WALLETS:
            raise ProviderDeclined(f"Stripe does not collect {checkout.method} here.", method=checkout.method)
        if checkout.method == "card" and not self.settings.stripe_publishable_key:
            raise ProviderUnavailable("Stripe is not configured (SIMKEEP_STRIPE_PUBLISHABLE_KEY).")
        return_url = self._absolute(checkout.return_url)
        params: dict[str, Any] = {
            "amount": checkout.amount_minor,
            "currency": checkout.currency.lower(),
            # The description goes into metadata: it shows in the dashboard and every Stripe API accepts it.
            "metadata": {"attempt_id": checkout.attempt_id, "description": checkout.description[:500]},
        }
        if checkout.method == "card":
            # Confirmed in the payer's browser by Stripe.js (3-D Secure included): card data never reach simkeep.
            params["payment_method_types"] = ["card"]
        else:
            method = checkout.method
            params.update(payment_method_types=[method], payment_method_data={"type": method}, confirm=True,
                          return_url=return_url)
            if method == "wechat_pay":
                params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        with _calling_stripe():
            # `payment_method_types`, which the API takes, is not in the SDK's typed parameters (it lists the newer
            # `allowed_payment_method_types`): the dict is passed as what it is.
            intent = self.client.v1.payment_intents.create(
                params=cast(PaymentIntentCreateParams, params),
                options={"idempotency_key": checkout.attempt_id}).to_dict()
        return ProviderPayment(intent["id"], self._next_action(checkout, intent, return_url))

    def parse_webhook(self, raw_body: bytes, headers: dict[str, str]) -> ProviderEvent:
        """Verified on the exact bytes received (a re-serialised body does not verify), 300 s tolerance."""
        try:
            stripe.WebhookSignature.verify_header(raw_body, headers.get(SIGNATURE_HEADER), self.webhook_secret,
                                                  stripe.Webhook.DEFAULT_TOLERANCE)
            return _event(json.loads(raw_body))
        except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookRejected() from exc

    def fetch_status(self, ref: str) -> ProviderStatus:
        with _calling_stripe():
            try:
                intent = self.client.v1.payment_intents.retrieve(ref).to_dict()
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404 or exc.code == "resource_missing":  # not this account's: a person looks
                    return ProviderStatus(ref, "unknown")
                raise
        return _status_of(ref, intent)

    def refund(self, ref: str, *, amount_minor: int, currency: str, idempotency_key: str) -> RefundResult:
        with _calling_stripe():
            intent = self.client.v1.payment_intents.retrieve(ref).to_dict()
            if intent["currency"].upper() != currency.upper():
                raise ProviderDeclined("The refund currency differs from the payment's.", currency=currency)
            refund = self.client.v1.refunds.create(
                params={"payment_intent": ref, "amount": amount_minor,
                        "metadata": {"idempotency_key": idempotency_key}},
                # Prefixed: Stripe keys are per account, and a refund's key must never meet a payment's.
                options={"idempotency_key": f"refund:{idempotency_key}"}).to_dict()
        return RefundResult(refund["id"], REFUND_STATUS.get(refund.get("status") or "", "pending"))

    def cancel(self, ref: str) -> ProviderStatus:
        """Cancel the PaymentIntent (possible until it succeeds or while it is not processing): nobody can pay it
        afterwards. Stripe refuses to cancel one that succeeded or is processing; then the intent says where it
        stands. Repeating is safe: a canceled intent stays canceled."""
        with _calling_stripe():
            try:
                intent = self.client.v1.payment_intents.cancel(
                    ref, options={"idempotency_key": f"cancel:{ref}"}).to_dict()
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404 or exc.code == "resource_missing":
                    return ProviderStatus(ref, "unknown")
                intent = self.client.v1.payment_intents.retrieve(ref).to_dict()
        return ProviderStatus(ref, "canceled") if intent.get("status") == "canceled" else _status_of(ref, intent)

    # -- helpers -------------------------------------------------------------------------------------------------

    def _absolute(self, url: str) -> str:
        return f"{self.settings.base_url}{url}" if url.startswith("/") else url

    def _next_action(self, checkout: Checkout, intent: dict, return_url: str) -> dict:
        if checkout.method == "card":
            return {"type": "stripe_js", "client_secret": intent["client_secret"],
                    "publishable_key": self.settings.stripe_publishable_key, "return_url": return_url,
                    "js_url": self.js_url, "locale": STRIPE_JS_LOCALE.get(checkout.language, "auto")}
        action = intent.get("next_action") or {}
        kind = action.get("type")
        if kind == "wechat_pay_display_qr_code":
            qr = action["wechat_pay_display_qr_code"]
            image = segno.make(qr["data"], error="m").svg_data_uri(scale=5) if qr.get("data") else qr.get("image_data_url")
            return {"type": "qr", "method": checkout.method, "qr_data": qr.get("data"), "image": image,
                    "url": qr.get("hosted_instructions_url"), "return_url": return_url}
        if kind in ("alipay_handle_redirect", "redirect_to_url") and action[kind].get("url"):
            return {"type": "redirect", "url": action[kind]["url"]}
        status, failure = intent_status(intent)
        if status == "failed":
            raise ProviderDeclined("Stripe refused the payment.", failure=failure)
        if kind is None:  # already settled or processing: the result page follows the webhook
            return {"type": "redirect", "url": checkout.return_url}
        raise ProviderDeclined(f"Unsupported Stripe next action {kind!r}.", next_action=kind)


    # -- SavesMethods (auto-renew) ----------------------------------------------------------------------------
    # A Customer and a SetupIntent (usage off_session) confirmed by Stripe.js in the payer's browser save a card;
    # an off-session PaymentIntent (confirm, off_session) charges it, keyed by the attempt id. A card that needs
    # its owner (authentication_required) answers requires_action: Stripe keeps that PaymentIntent.

    def start_saving(self, *, reference: str, return_url: str, language: str) -> MethodSetup:
        if not self.settings.stripe_publishable_key:
            raise ProviderUnavailable("Stripe is not configured (SIMKEEP_STRIPE_PUBLISHABLE_KEY).")
        with _calling_stripe():
            customer = self.client.v1.customers.create(params={"metadata": {"reference": reference}},
                                                       options={"idempotency_key": f"customer:{reference}"})
            setup_params: dict[str, Any] = {"customer": customer.id, "usage": "off_session",
                                            "payment_method_types": ["card"], "metadata": {"reference": reference}}
            setup = self.client.v1.setup_intents.create(
                params=cast(SetupIntentCreateParams, setup_params),
                options={"idempotency_key": f"setup:{reference}"}).to_dict()
        return MethodSetup(setup["id"], {"type": "stripe_js_setup", "client_secret": setup["client_secret"],
                                         "publishable_key": self.settings.stripe_publishable_key,
                                         "js_url": self.js_url, "return_url": self._absolute(return_url),
                                         "locale": STRIPE_JS_LOCALE.get(language, "auto")})

    def finish_saving(self, setup_ref: str, *, test_card: str | None = None) -> SavedRef:
        with _calling_stripe():
            setup = self.client.v1.setup_intents.retrieve(
                setup_ref, params={"expand": ["payment_method"]}).to_dict()
        if setup.get("status") != "succeeded" or not isinstance(setup.get("payment_method"), dict):
            raise ProviderDeclined("The card was not saved.", failure=_failure(setup.get("last_setup_error")))
        method = setup["payment_method"]
        card = method.get("card") or {}
        label = f"{str(card.get('brand') or 'card').title()} •••• {card.get('last4') or '????'}"
        return SavedRef(setup.get("customer"), method["id"], label)

    def charge_saved(self, charge: OffSessionCharge) -> ProviderStatus:
        params: dict[str, Any] = {
            "amount": charge.amount_minor, "currency": charge.currency.lower(), "customer": charge.customer_ref,
            "payment_method": charge.method_ref, "off_session": True, "confirm": True,
            "metadata": {"attempt_id": charge.idempotency_key, "description": charge.description[:500]}}
        try:
            intent = self.client.v1.payment_intents.create(
                params=cast(PaymentIntentCreateParams, params),
                options={"idempotency_key": charge.idempotency_key}).to_dict()
        except stripe.CardError as exc:
            error = (exc.json_body or {}).get("error") if isinstance(exc.json_body, dict) else None
            error = error if isinstance(error, dict) else {"code": exc.code}
            failed_intent = error.get("payment_intent")
            ref = str(failed_intent.get("id") or "") if isinstance(failed_intent, dict) else ""
            if error.get("code") == "authentication_required":
                return ProviderStatus(ref, "requires_action", charge.amount_minor, charge.currency.upper())
            return ProviderStatus(ref, "failed", charge.amount_minor, charge.currency.upper(),
                                  _failure({"code": error.get("decline_code") or error.get("code")}))
        except stripe.StripeError as exc:
            with _calling_stripe():
                raise exc
            raise
        status = _status_of(intent["id"], intent)
        if intent.get("status") == "requires_action":
            return ProviderStatus(intent["id"], "requires_action", status.amount_minor, status.currency)
        return status


def _status_of(ref: str, intent: dict) -> ProviderStatus:
    status, failure = intent_status(intent)
    amount = intent.get("amount_received") if status == "succeeded" else None
    return ProviderStatus(ref, status, amount if amount is not None else intent["amount"], intent["currency"].upper(),
                          failure)


def intent_status(intent: dict) -> tuple[str, str | None]:
    """PaymentIntent.status -> (succeeded | failed | pending, failure). 3-D Secure (requires_action) is pending."""
    status = intent.get("status")
    error = intent.get("last_payment_error")
    if status == "succeeded":
        return "succeeded", None
    if status == "canceled":
        return "failed", "canceled"
    if status == "requires_payment_method" and error:
        return "failed", _failure(error)
    return "pending", None


def _failure(error: dict | None) -> str:
    error = error or {}
    code = error.get("code") or error.get("decline_code") or "failed"
    return FAILURE_CODES.get(code, code)


def _event(event: dict) -> ProviderEvent:
    """A verified Stripe event in simkeep's terms; malformed content raises (-> WebhookRejected)."""
    event_id, stripe_type, obj = event["id"], event["type"], event["data"]["object"]
    if not (isinstance(event_id, str) and event_id and isinstance(stripe_type, str) and isinstance(obj, dict)):
        raise TypeError("not a Stripe event")
    kind = EVENT_TYPES.get(stripe_type, stripe_type)
    if obj.get("object") == "payment_intent":
        ref = obj["id"]
    else:  # a charge (refunds) or a dispute: the payment is the PaymentIntent they belong to
        ref = obj.get("payment_intent") or obj.get("charge") or obj.get("id")
    amount = obj.get("amount")
    failure = None
    if stripe_type == "payment_intent.succeeded" and obj.get("amount_received") is not None:
        amount = obj["amount_received"]
    elif stripe_type == "charge.refunded":
        amount = obj.get("amount_refunded")  # total refunded on the charge so far
    if stripe_type == "payment_intent.payment_failed":
        failure = _failure(obj.get("last_payment_error"))
    elif stripe_type == "payment_intent.canceled":
        failure = "canceled"
    elif stripe_type.startswith("charge.dispute."):
        failure = obj.get("reason")
    if not isinstance(ref, str) or (amount is not None and (type(amount) is not int)):
        raise TypeError("malformed Stripe object")
    currency = obj.get("currency")
    return ProviderEvent(event_id=event_id, type=kind, payment_ref=ref, amount_minor=amount,
                         currency=currency.upper() if isinstance(currency, str) else None, failure=failure,
                         raw=_scrubbed(event))


def _scrubbed(event: dict) -> dict:
    """The event as stored in the inbox, without the PaymentIntent's client secret."""
    obj = {k: v for k, v in event["data"]["object"].items() if k != "client_secret"}
    return {**event, "data": {**event["data"], "object": obj}}


@contextmanager
def _calling_stripe() -> Iterator[None]:
    """Stripe's errors in simkeep's terms: unreachable or unsure -> ProviderUnavailable, refused -> ProviderDeclined."""
    try:
        yield
    except stripe.CardError as exc:
        error = (exc.json_body or {}).get("error") if isinstance(exc.json_body, dict) else None
        raise ProviderDeclined(exc.user_message or "The card was declined.",
                               failure=_failure(error if isinstance(error, dict) else {"code": exc.code})) from exc
    except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError, stripe.AuthenticationError,
            stripe.PermissionError) as exc:
        # Timeout, connection error, 5xx, throttling or a key Stripe refuses: nothing known was done.
        raise ProviderUnavailable() from exc
    except stripe.StripeError as exc:  # invalid request, idempotency key reused with other parameters, ...
        raise ProviderDeclined(exc.user_message or "Stripe refused the request.", code=exc.code) from exc
