"""What simkeep needs from a payment provider. Adapters live one per file beside this one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from simkeep.core.errors import SimkeepError


@dataclass(frozen=True, slots=True)
class Checkout:
    """What simkeep asks a provider to collect."""

    attempt_id: str
    amount_minor: int
    currency: str
    method: str
    description: str
    return_url: str
    language: str


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    ref: str
    next_action: dict  # {"type": "redirect", "url": ...}: where the payer goes next


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified webhook, in simkeep's terms."""

    event_id: str
    type: str  # payment.succeeded | payment.failed | payment.pending
    payment_ref: str
    payload: dict


class WebhookRejected(SimkeepError):
    code, status, message = "webhook_rejected", 400, "The webhook signature is not valid."


class ProviderUnavailable(SimkeepError):
    code, status, message = "provider_unavailable", 502, "The payment provider could not be reached. Nothing was charged."


class PaymentProvider(Protocol):
    name: str

    def create_payment(self, checkout: Checkout) -> ProviderPayment:
        """Register the payment with the provider; raise ProviderUnavailable if it cannot be reached."""

    def parse_webhook(self, raw_body: bytes, headers: dict[str, str]) -> ProviderEvent:
        """Verify the signature on the raw body and return the event; raise WebhookRejected otherwise."""
