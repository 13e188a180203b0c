"""Adapter for the sandbox provider that ships with simkeep, so the whole flow runs offline."""

from __future__ import annotations

import json
import time

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.signing import BadSignature, verify
from simkeep.db import Database
from simkeep.notification.senders.webhook import SIGNATURE_HEADER
from simkeep.payment.providers.base import (
    Checkout,
    MethodSetup,
    OffSessionCharge,
    ProviderDisabled,
    ProviderEvent,
    ProviderPayment,
    ProviderStatus,
    RefundResult,
    SavedRef,
    WebhookRejected,
)
from simkeep.sandbox import service as sandbox


class SandboxProvider:
    name = "sandbox"

    def __init__(self, db: Database, settings: Settings) -> None:
        # A development tool: it approves whatever its payer says, so it exists only where it is switched on.
        if not settings.sandbox_on or not settings.sandbox_webhook_secret:
            raise ProviderDisabled("sandbox")
        self.db = db
        self.secret = settings.sandbox_webhook_secret
        self.webhook_url = f"{settings.base_url}/webhooks/sandbox"

    def create_payment(self, checkout: Checkout) -> ProviderPayment:
        with self.db.transaction() as session:
            payment = sandbox.create_payment(
                session, merchant_ref=checkout.attempt_id, amount_minor=checkout.amount_minor,
                currency=checkout.currency, method=checkout.method, description=checkout.description,
                return_url=checkout.return_url, language=checkout.language, now=clock.now())
        return ProviderPayment(payment.ref, {"type": "redirect", "url": f"/sandbox/pay/{payment.ref}"})

    def parse_webhook(self, raw_body: bytes, headers: dict[str, str]) -> ProviderEvent:
        try:
            verify(self.secret, raw_body, headers.get(SIGNATURE_HEADER.lower()), int(time.time()))
            event = json.loads(raw_body)
            data = event["data"]
            return ProviderEvent(event_id=str(event["id"]), type=str(event["type"]), payment_ref=str(data["ref"]),
                                 amount_minor=data.get("amount_minor"), currency=data.get("currency"),
                                 failure=data.get("failure"), raw=event)
        except (BadSignature, ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected() from exc

    def fetch_status(self, ref: str) -> ProviderStatus:
        with self.db.transaction(write=False) as session:
            payment = sandbox.get_payment(session, ref)
        status = {sandbox.SUCCEEDED: "succeeded", sandbox.FAILED: "failed"}.get(payment.status, "pending")
        return ProviderStatus(ref, status, payment.amount_minor, payment.currency)

    def cancel(self, ref: str) -> ProviderStatus:
        with self.db.transaction() as session:
            canceled = sandbox.cancel(session, ref=ref, now=clock.now())
        return ProviderStatus(ref, "canceled") if canceled else self.fetch_status(ref)

    def refund(self, ref: str, *, amount_minor: int, currency: str, idempotency_key: str) -> RefundResult:
        with self.db.transaction() as session:
            refund_ref = sandbox.refund(session, ref=ref, amount_minor=amount_minor, currency=currency,
                                        idempotency_key=idempotency_key, now=clock.now())
        return RefundResult(refund_ref, "succeeded")

    # -- SavesMethods --------------------------------------------------------------------------------------------

    def start_saving(self, *, reference: str, return_url: str, language: str) -> MethodSetup:
        """The sandbox's setup is a form of test cards on simkeep's own page (no redirect)."""
        return MethodSetup(f"seti_sbx_{reference}", {"type": "sandbox_card"})

    def finish_saving(self, setup_ref: str, *, test_card: str | None = None) -> SavedRef:
        method_ref, label = sandbox.save_test_card(test_card or "")
        return SavedRef(None, method_ref, label)

    def charge_saved(self, charge: OffSessionCharge) -> ProviderStatus:
        with self.db.transaction() as session:
            payment = sandbox.charge_saved(
                session, merchant_ref=charge.idempotency_key, method_ref=charge.method_ref,
                amount_minor=charge.amount_minor, currency=charge.currency, description=charge.description,
                return_url=f"/pay/{charge.idempotency_key}", language="en", webhook_url=self.webhook_url,
                now=clock.now())
        status = {sandbox.SUCCEEDED: "succeeded", sandbox.FAILED: "failed",
                  sandbox.REQUIRES_ACTION: "requires_action"}.get(payment.status, "pending")
        return ProviderStatus(payment.ref, status, payment.amount_minor, payment.currency, sandbox.failure_of(payment))
