"""PayPal adapter: REST Orders v2 over httpx (create -> buyer approval redirect -> capture), Payments v2 refunds,
and webhooks verified through PayPal's verify-webhook-signature call on the exact bytes received.

Money is only taken by `capture`, which the portal (on the buyer's return) and reconciliation call with a stable
idempotency key; PayPal replays the first answer for a repeated PayPal-Request-Id. A capture, refund or status
call that times out or gets a 5xx raises ProviderUnavailable: the outcome is unknown and must never be read as
"failed" (and never trigger a refund).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import InvalidAmount
from simkeep.core.money import Money, minor_digits
from simkeep.payment.providers.base import (
    DISPUTED,
    FAILED,
    PENDING,
    REFUNDED,
    SUCCEEDED,
    Checkout,
    ProviderDeclined,
    ProviderEvent,
    ProviderPayment,
    ProviderStatus,
    ProviderUnavailable,
    RefundResult,
    WebhookRejected,
)

TIMEOUT = httpx.Timeout(10.0, connect=5.0, read=20.0)
TOKEN_MARGIN_SECONDS = 300  # a cached token is renewed this long before PayPal says it expires
UNKNOWN_OUTCOME = "PayPal did not answer in time; the outcome is not known yet and will be settled from PayPal's records."

# PayPal takes no decimals for these even where ISO 4217 / CLDR has two (HUF, TWD).
ZERO_DECIMAL = frozenset({"HUF", "JPY", "TWD"})
LOCALES = {"fr": "fr-FR", "zh_CN": "zh-CN", "zh": "zh-CN", "en": "en-US"}

# Capture errors that say the money was NOT taken (Orders v2 capture, HTTP 422 details[0].issue).
DECLINE_ISSUES = frozenset({"INSTRUMENT_DECLINED", "TRANSACTION_REFUSED", "PAYER_CANNOT_PAY",
                            "PAYEE_BLOCKED_TRANSACTION", "COMPLIANCE_VIOLATION",
                            "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED", "REDIRECT_PAYER_FOR_ALTERNATE_FUNDING"})
CAPTURED = ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")  # capture statuses where the money was taken
AWAITING_PAYER = ("CREATED", "PAYER_ACTION_REQUIRED")  # no approval, so no capture can exist
ORDER_PENDING = ("SAVED", "APPROVED", "PENDING_APPROVAL")
# PayPal's default: 3 hours to send the payer, then 3 hours to approve (an account manager can extend it to 72 h;
# raise this with it). An order still awaiting the payer after that can never be paid: it failed, nothing moved.
APPROVAL_WINDOW = timedelta(hours=6)

EVENT_TYPES = {
    "PAYMENT.CAPTURE.COMPLETED": SUCCEEDED,
    "PAYMENT.CAPTURE.DENIED": FAILED,
    "CHECKOUT.ORDER.VOIDED": FAILED,
    "PAYMENT.CAPTURE.PENDING": PENDING,
    "CHECKOUT.ORDER.APPROVED": PENDING,
    "PAYMENT.CAPTURE.REFUNDED": REFUNDED,
    "PAYMENT.CAPTURE.REVERSED": REFUNDED,  # PayPal took the money back (e.g. a lost chargeback)
    "CUSTOMER.DISPUTE.CREATED": DISPUTED,
}
# Webhook request headers (as simkeep passes them: lower-cased) -> verify-webhook-signature fields.
SIGNATURE_HEADERS = {"auth_algo": "paypal-auth-algo", "cert_url": "paypal-cert-url",
                     "transmission_id": "paypal-transmission-id", "transmission_sig": "paypal-transmission-sig",
                     "transmission_time": "paypal-transmission-time"}

_ORDER_LINK = re.compile(r"/v2/checkout/orders/([A-Za-z0-9-]+)$")
_CAPTURE_LINK = re.compile(r"/v2/payments/captures/([A-Za-z0-9-]+)$")
_now = time.monotonic


def paypal_value(amount_minor: int, currency: str) -> str:
    """1000 EUR minor units -> "10.00"; exponent from Babel, except where PayPal wants whole units."""
    money = Money(amount_minor, currency)
    digits = minor_digits(currency)
    value = money.as_decimal()
    if currency in ZERO_DECIMAL:
        if value != value.to_integral_value():
            raise InvalidAmount(f"PayPal takes whole amounts of {currency}.")
        digits = 0
    return f"{value:.{digits}f}"


def from_paypal(amount: dict | None) -> tuple[int | None, str | None]:
    """{"currency_code": "EUR", "value": "10.00"} -> (1000, "EUR")."""
    if not amount:
        return None, None
    currency = str(amount["currency_code"])
    return Money.parse(Decimal(str(amount["value"])), currency).minor, currency


class _Api:
    """One HTTP connection pool and one OAuth token per PayPal account, shared by the adapter instances of a
    process (the app builds an adapter per request; PayPal rate-limits token requests)."""

    def __init__(self, base_url: str, client_id: str | None, secret: str | None,
                 transport: httpx.BaseTransport | None) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=TIMEOUT, transport=transport,
                                   headers={"Accept": "application/json"})
        self._credentials = (client_id, secret)
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def token(self, *, stale: str | None = None) -> str:
        with self._lock:
            if self._token and self._token != stale and _now() < self._renew_at:
                return self._token
            client_id, secret = self._credentials
            if not client_id or not secret:
                raise ProviderUnavailable("PayPal is not configured.")
            try:
                response = self.client.post("/v1/oauth2/token", data={"grant_type": "client_credentials"},
                                            auth=(client_id, secret))
            except httpx.HTTPError as exc:
                raise ProviderUnavailable("PayPal could not be reached.") from exc
            if response.status_code != 200:
                raise ProviderUnavailable("PayPal refused simkeep's credentials.",
                                          paypal_status=response.status_code)
            try:
                body = response.json()
                expires_in, token = int(body.get("expires_in", 0)), str(body["access_token"])
            except (ValueError, KeyError, AttributeError) as exc:
                raise ProviderUnavailable("PayPal gave no usable token.") from exc
            self._token = token
            self._renew_at = _now() + max(expires_in - TOKEN_MARGIN_SECONDS, expires_in // 2)
            return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """PayPal's answer; ProviderUnavailable when it cannot be had or says nothing about the request (401 after
        one token renewal, 429, 5xx, timeouts): the outcome is then unknown."""
        headers = kwargs.pop("headers", {})
        token = self.token()
        for retry in (False, True):
            try:
                response = self.client.request(method, path, headers={"Authorization": f"Bearer {token}", **headers},
                                               **kwargs)
            except httpx.TimeoutException as exc:
                raise ProviderUnavailable(UNKNOWN_OUTCOME) from exc
            except httpx.HTTPError as exc:
                raise ProviderUnavailable("PayPal could not be reached; the outcome is not known yet.") from exc
            if response.status_code == 401 and not retry:  # revoked or expired early: not processed, renew once
                token = self.token(stale=token)
                continue
            break
        if response.status_code == 401:
            raise ProviderUnavailable("PayPal refused simkeep's credentials.", paypal_status=401)
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnavailable(UNKNOWN_OUTCOME, paypal_status=response.status_code)
        return response


_shared: dict[tuple[str, str, str], _Api] = {}
_shared_lock = threading.Lock()


def _shared_api(settings: Settings) -> _Api:
    digest = hashlib.sha256((settings.paypal_client_secret or "").encode()).hexdigest()
    key = (settings.paypal_api_base, settings.paypal_client_id or "", digest)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = _Api(settings.paypal_api_base, settings.paypal_client_id,
                                settings.paypal_client_secret, None)
        return _shared[key]


class PayPalProvider:
    name = "paypal"

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = settings.base_url
        self.webhook_id = settings.paypal_webhook_id
        self.api = (_Api(settings.paypal_api_base, settings.paypal_client_id, settings.paypal_client_secret, transport)
                    if transport is not None else _shared_api(settings))

    # -- create -------------------------------------------------------------------------------------------------

    def create_payment(self, checkout: Checkout) -> ProviderPayment:
        return_url = self._absolute(checkout.return_url)
        experience = {"return_url": return_url,
                      "cancel_url": return_url + ("&" if "?" in return_url else "?") + "cancelled=1",
                      "user_action": "PAY_NOW", "shipping_preference": "NO_SHIPPING",
                      # no eCheck: a renewal must not wait days for a bank payment to clear
                      "payment_method_preference": "IMMEDIATE_PAYMENT_REQUIRED"}
        if checkout.language in LOCALES:
            experience["locale"] = LOCALES[checkout.language]
        body = {"intent": "CAPTURE",
                "purchase_units": [{"custom_id": checkout.attempt_id, "invoice_id": checkout.attempt_id,
                                    "description": checkout.description[:127],
                                    "amount": {"currency_code": checkout.currency,
                                               "value": paypal_value(checkout.amount_minor, checkout.currency)}}],
                "payment_source": {"paypal": {"experience_context": experience}}}
        response = self.api.request("POST", "/v2/checkout/orders", json=body,
                                    headers={"PayPal-Request-Id": checkout.attempt_id})
        if not response.is_success:
            raise ProviderDeclined("PayPal refused to create the payment.", paypal_issue=_issue(response))
        order = response.json()
        url = _link(order, "payer-action") or _link(order, "approve")
        if not url:
            raise ProviderUnavailable("PayPal gave no approval link.")
        return ProviderPayment(str(order["id"]), {"type": "redirect", "url": url})

    def _absolute(self, url: str) -> str:
        return url if url.startswith(("https://", "http://")) else f"{self.base_url}/{url.lstrip('/')}"

    # -- capture and status -------------------------------------------------------------------------------------

    def capture(self, order_id: str, idempotency_key: str) -> ProviderStatus:
        """Take the money the buyer approved. Safe to repeat with the same key; a declined funding source is
        "failed", an order the buyer has not approved yet is "pending", a timeout raises ProviderUnavailable."""
        response = self.api.request("POST", f"/v2/checkout/orders/{_safe(order_id)}/capture", json={},
                                    headers={"PayPal-Request-Id": idempotency_key,
                                             "Prefer": "return=representation"})
        if response.is_success:
            return _status_of(order_id, response.json())
        issue = _issue(response)
        if issue in DECLINE_ISSUES:
            return ProviderStatus(order_id, "failed", failure=issue.lower())
        if issue == "ORDER_NOT_APPROVED":
            return ProviderStatus(order_id, "pending")
        # ORDER_ALREADY_CAPTURED (captured under another key), expired or unknown orders: the order says.
        return self.fetch_status(order_id)

    def fetch_status(self, ref: str) -> ProviderStatus:
        response = self.api.request("GET", f"/v2/checkout/orders/{_safe(ref)}")
        if response.status_code == 404:
            return ProviderStatus(ref, "unknown", failure="order_not_found")
        if not response.is_success:
            raise ProviderUnavailable("PayPal could not say where this payment stands.",
                                      paypal_issue=_issue(response))
        return _status_of(ref, response.json())

    def cancel(self, ref: str) -> ProviderStatus:
        """Orders v2 has no cancel: an order the payer never approved simply expires at PayPal, and no capture can
        happen without approval, so it is recorded closed without a call that would change anything. An order
        PayPal no longer knows cannot be paid either. Any other order says where it stands."""
        response = self.api.request("GET", f"/v2/checkout/orders/{_safe(ref)}")
        if response.status_code == 404:
            return ProviderStatus(ref, "canceled", failure="order_not_found")
        if not response.is_success:
            raise ProviderUnavailable("PayPal could not say where this payment stands.",
                                      paypal_issue=_issue(response))
        order = response.json()
        if order.get("status") in AWAITING_PAYER and not _captures(order):
            return ProviderStatus(ref, "canceled")
        return _status_of(ref, order)

    # -- refund -------------------------------------------------------------------------------------------------

    def refund(self, ref: str, *, amount_minor: int, currency: str, idempotency_key: str) -> RefundResult:
        response = self.api.request("GET", f"/v2/checkout/orders/{_safe(ref)}")
        if response.status_code == 404:
            raise ProviderDeclined("PayPal does not know this payment.")
        if not response.is_success:
            raise ProviderUnavailable("PayPal could not say where this payment stands.")
        # REFUNDED is included so that a repeated key reaches PayPal, which answers with the first refund.
        capture = next((c for c in _captures(response.json()) if c.get("status") in CAPTURED), None)
        if capture is None:
            raise ProviderDeclined("This PayPal payment has no captured amount to refund.")
        body = {"amount": {"currency_code": currency, "value": paypal_value(amount_minor, currency)},
                "custom_id": idempotency_key[:127]}
        response = self.api.request("POST", f"/v2/payments/captures/{_safe(str(capture['id']))}/refund", json=body,
                                    headers={"PayPal-Request-Id": idempotency_key,
                                             "Prefer": "return=representation"})
        if not response.is_success:
            raise ProviderDeclined("PayPal refused the refund.", paypal_issue=_issue(response))
        refund = response.json()
        status = {"COMPLETED": "succeeded", "FAILED": "failed", "CANCELLED": "failed"}.get(refund.get("status"),
                                                                                             "pending")
        return RefundResult(str(refund["id"]), status)

    # -- webhooks -----------------------------------------------------------------------------------------------

    def parse_webhook(self, raw_body: bytes, headers: dict[str, str]) -> ProviderEvent:
        """Verified by PayPal on the bytes received (never a re-serialisation); anything else is refused."""
        headers = {k.lower(): v for k, v in headers.items()}
        fields = {name: headers.get(header) for name, header in SIGNATURE_HEADERS.items()}
        if not all(fields.values()) or not self.webhook_id:
            raise WebhookRejected()
        try:
            text = raw_body.decode("utf-8")
            event = json.loads(text)
            if not isinstance(event, dict) or not event.get("id") or not event.get("event_type"):
                raise ValueError("not a PayPal event")
        except ValueError as exc:
            raise WebhookRejected() from exc
        request = json.dumps({**fields, "webhook_id": self.webhook_id})
        # The event goes to PayPal byte for byte: its signature covers a CRC32 of exactly these bytes.
        content = (request[:-1] + ', "webhook_event": ' + text + "}").encode()
        try:
            response = self.api.request("POST", "/v1/notifications/verify-webhook-signature", content=content,
                                        headers={"Content-Type": "application/json"})
            verified = response.status_code == 200 and response.json().get("verification_status") == "SUCCESS"
        except (ProviderUnavailable, ValueError) as exc:
            raise WebhookRejected("PayPal could not verify the webhook.") from exc
        if not verified:
            raise WebhookRejected()
        try:
            return self._event(event)
        except (KeyError, IndexError, TypeError, ValueError, InvalidAmount, ProviderDeclined) as exc:
            raise WebhookRejected("The webhook is not a PayPal event simkeep understands.") from exc

    def _event(self, event: dict) -> ProviderEvent:
        kind = str(event["event_type"])
        resource = event.get("resource") or {}
        normalised = EVENT_TYPES.get(kind)
        if normalised is None:  # authentic but not ours to act on: acknowledged, stored, ignored by the worker
            return ProviderEvent(str(event["id"]), kind, str(resource.get("id", "")), raw=event)
        failure = None
        if kind.startswith("CHECKOUT.ORDER."):
            ref, amount = str(resource["id"]), resource["purchase_units"][0].get("amount")
            failure = "order_voided" if normalised == FAILED else None
        elif kind == "CUSTOMER.DISPUTE.CREATED":
            capture_id = str(resource["disputed_transactions"][0]["seller_transaction_id"])
            ref, amount = self._order_of_capture(capture_id), resource.get("dispute_amount")
        else:
            ref, amount = self._order_of(resource), resource.get("amount")
            if normalised == FAILED:
                failure = str((resource.get("status_details") or {}).get("reason") or "capture_denied").lower()
        amount_minor, currency = from_paypal(amount)
        return ProviderEvent(event_id=str(event["id"]), type=normalised, payment_ref=ref, amount_minor=amount_minor,
                             currency=currency, failure=failure, raw=event)

    def _order_of(self, resource: dict) -> str:
        """The order a capture or refund belongs to: named in the event when PayPal includes it, else asked."""
        order_id = ((resource.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
        if order_id:
            return str(order_id)
        up = _link(resource, "up") or ""
        if match := _ORDER_LINK.search(up):
            return match.group(1)
        if match := _CAPTURE_LINK.search(up):  # a refund points up to its capture
            return self._order_of_capture(match.group(1))
        return self._order_of_capture(str(resource["id"]))

    def _order_of_capture(self, capture_id: str) -> str:
        response = self.api.request("GET", f"/v2/payments/captures/{_safe(capture_id)}")
        if response.status_code == 404:
            return capture_id  # not one of simkeep's orders: stored, and the worker finds no payment for it
        if not response.is_success:
            raise ProviderUnavailable("PayPal could not say which payment this event is about.")
        related = (response.json().get("supplementary_data") or {}).get("related_ids") or {}
        return str(related.get("order_id") or capture_id)


def _status_of(order_id: str, order: dict) -> ProviderStatus:
    """Orders v2 order (GET or capture answer) -> where the payment stands. The captures decide, not the order's
    own status: a COMPLETED order can hold a declined capture."""
    captures = _captures(order)
    taken = [c for c in captures if c.get("status") in CAPTURED]
    if taken:
        amount_minor, currency = from_paypal(taken[0].get("amount"))
        return ProviderStatus(order_id, "succeeded", amount_minor, currency)
    if any(c.get("status") == "PENDING" for c in captures):
        amount_minor, currency = from_paypal(captures[0].get("amount"))
        return ProviderStatus(order_id, "pending", amount_minor, currency)
    if captures:  # DECLINED or FAILED
        reason = (captures[0].get("status_details") or {}).get("reason") or captures[0].get("status")
        return ProviderStatus(order_id, "failed", failure=str(reason).lower())
    status = order.get("status")
    if status == "VOIDED":
        return ProviderStatus(order_id, "failed", failure="order_voided")
    if status in AWAITING_PAYER:
        if _age(order) > APPROVAL_WINDOW:
            return ProviderStatus(order_id, "failed", failure="approval_expired")
        return ProviderStatus(order_id, "pending")
    if status in ORDER_PENDING:
        return ProviderStatus(order_id, "pending")
    return ProviderStatus(order_id, "unknown", failure=f"order_{str(status).lower()}")


def _age(order: dict) -> timedelta:
    try:
        return clock.now() - clock.parse_instant(str(order["create_time"]))
    except (KeyError, ValueError):
        return timedelta(0)  # no creation time: not old enough to call failed


def _captures(order: dict) -> list[dict]:
    units = order.get("purchase_units") or [{}]
    return list(((units[0].get("payments") or {}).get("captures")) or [])


def _link(resource: dict, rel: str) -> str | None:
    return next((str(link["href"]) for link in resource.get("links") or [] if link.get("rel") == rel), None)


def _issue(response: httpx.Response) -> str:
    """details[0].issue of a PayPal error body ("INSTRUMENT_DECLINED"), else its name, else the HTTP status."""
    try:
        body = response.json()
        details = body.get("details") or [{}]
        return str(details[0].get("issue") or body.get("name") or response.status_code)
    except (ValueError, AttributeError):
        return str(response.status_code)


def _safe(identifier: str) -> str:
    """PayPal ids are [A-Z0-9-]; anything else never reaches a URL path."""
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", identifier):
        raise ProviderDeclined("Not a PayPal payment reference.")
    return identifier
