"""What simkeep needs from a payment provider. Adapters live one per file beside this one; provider SDKs are
imported nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from simkeep.core.errors import SimkeepError

# Normalised event types every adapter maps its provider's events to.
SUCCEEDED, FAILED, PENDING, REFUNDED, DISPUTED = (
    "payment.succeeded", "payment.failed", "payment.pending", "payment.refunded", "payment.disputed")


@dataclass(frozen=True, slots=True)
class Checkout:
    """What simkeep asks a provider to collect. `attempt_id` doubles as the provider-side idempotency key."""

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
    # Where the payer goes next: {"type": "redirect", "url": ...} is followed by the portal; other types
    # ("qr", "bank_transfer", "stripe_js") are rendered by simkeep's own pay page.
    next_action: dict


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified webhook, in simkeep's terms."""

    event_id: str
    type: str  # one of the normalised types above
    payment_ref: str
    amount_minor: int | None = None
    currency: str | None = None
    failure: str | None = None
    raw: dict = field(default_factory=dict)

    def stored(self) -> dict:
        return {"ref": self.payment_ref, "amount_minor": self.amount_minor, "currency": self.currency,
                "failure": self.failure, "raw": self.raw}


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """What the provider says about a payment when asked (reconciliation), or after simkeep cancelled it."""

    ref: str
    # succeeded | failed | pending | unknown, or canceled: closed by `cancel` before any money moved
    status: str
    amount_minor: int | None = None
    currency: str | None = None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class RefundResult:
    ref: str
    status: str  # succeeded | pending | failed


@dataclass(frozen=True, slots=True)
class MethodSetup:
    """Saving a payment method for later, under way at the provider (a Stripe SetupIntent, a PayPal setup token,
    a sandbox setup): `next_action` is where the payer approves it, as for a payment."""

    ref: str
    next_action: dict


@dataclass(frozen=True, slots=True)
class SavedRef:
    """A payment method the provider keeps for us: its references and a label the payer recognises. Never a card
    number."""

    customer_ref: str | None
    method_ref: str
    label: str


@dataclass(frozen=True, slots=True)
class OffSessionCharge:
    """A charge of a saved method while its owner is away (auto-renew). `idempotency_key` is the payment attempt's
    id: asking again with it (after a crash or a timeout) answers with the first charge, never a second one."""

    idempotency_key: str
    customer_ref: str | None
    method_ref: str
    amount_minor: int
    currency: str
    description: str


class WebhookRejected(SimkeepError):
    code, status, message = "webhook_rejected", 400, "The webhook signature is not valid."


class ProviderDisabled(KeyError):
    """No such provider in this deployment: an unknown name, or the sandbox while it is off."""


class ProviderUnavailable(SimkeepError):
    """The provider could not be reached or did not answer in time: the outcome is unknown, never assumed."""

    code, status, message = "provider_unavailable", 502, "The payment provider could not be reached. Nothing was charged."


class ProviderDeclined(SimkeepError):
    code, status, message = "provider_declined", 402, "The payment provider refused the operation."


class PaymentProvider(Protocol):
    name: str

    def create_payment(self, checkout: Checkout) -> ProviderPayment:
        """Register the payment; raise ProviderUnavailable if the provider cannot be reached."""

    def parse_webhook(self, raw_body: bytes, headers: dict[str, str]) -> ProviderEvent:
        """Verify the signature on the raw body and return the event; raise WebhookRejected otherwise."""

    def fetch_status(self, ref: str) -> ProviderStatus:
        """Ask the provider where a payment stands; raise ProviderUnavailable if it cannot say."""

    def refund(self, ref: str, *, amount_minor: int, currency: str, idempotency_key: str) -> RefundResult:
        """Refund (part of) a captured payment; the same idempotency key never refunds twice."""

    def cancel(self, ref: str) -> ProviderStatus:
        """Close a payment the payer never completed, so it can no longer be paid: "canceled" when no money moved,
        else where the payment stands ("succeeded": it was paid after all; "pending": money may be on its way).
        Safe to repeat; raise ProviderUnavailable if the provider cannot be reached."""


class SavesMethods(Protocol):
    """What a provider that can charge a saved method off-session does beside PaymentProvider (Stripe, PayPal, the
    sandbox). `charge_saved` answers with the charge's ref and status: succeeded, failed (with the failure code),
    requires_action (the payer must authenticate: the ref is a payment the payer can complete on the provider's
    page) or pending; ProviderUnavailable when the outcome is unknown."""

    name: str

    def start_saving(self, *, reference: str, return_url: str, language: str) -> MethodSetup: ...

    def finish_saving(self, setup_ref: str, *, test_card: str | None = None) -> SavedRef: ...

    def charge_saved(self, charge: OffSessionCharge) -> ProviderStatus: ...
