"""SEPA credit transfer: the payer sends the money from their own bank to the operator's account, quoting the
order's ISO 11649 creditor reference. There is no provider to call: simkeep shows the account, the reference and
an EPC069-12 QR code, and learns of the payment when the bank statement (camt.053) is imported (sepa.service).
"""

from __future__ import annotations

from simkeep.config import Settings
from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.payment.providers.base import (
    Checkout,
    ProviderDeclined,
    ProviderEvent,
    ProviderPayment,
    ProviderStatus,
    ProviderUnavailable,
    RefundResult,
    WebhookRejected,
)
from simkeep.payment.providers.sepa import epc
from simkeep.payment.providers.sepa import service as bank


class SepaNotUsable(ProviderUnavailable):
    """The operator's bank details are wrong, or the order cannot be paid by SEPA transfer: no details are shown,
    so nobody can pay into a wrong account (the portal records the attempt as failed: nothing was charged)."""

    code, status, message = "sepa_not_usable", 503, "Bank transfer is not available for this payment."


class SepaRefundByHand(ProviderDeclined):
    code, message = "sepa_refund_by_hand", (
        "A SEPA transfer cannot be refunded through a provider: staff send the money back as an outgoing transfer "
        "from the operator's bank to the payer's IBAN (on the bank statement entry), then record it.")


class SepaProvider:
    name = bank.PROVIDER

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def account(self) -> tuple[str, str]:
        """The configured IBAN and BIC, validated; SepaNotUsable names the setting that is wrong."""
        try:
            return epc.check_account(self.settings.sepa_iban, self.settings.sepa_bic)
        except SimkeepError as exc:
            raise SepaNotUsable(exc.message) from exc

    def create_payment(self, checkout: Checkout) -> ProviderPayment:
        if checkout.method != bank.METHOD:
            raise SepaNotUsable(f"The SEPA provider collects bank transfers, not {checkout.method} payments.")
        iban, bic = self.account()
        reference = epc.creditor_reference(checkout.attempt_id)
        creditor = " ".join(self.settings.sepa_creditor_name.split())
        try:
            # Pages draw the QR code from these fields (portal.service.transfer_details): it must be drawable.
            epc.qr_inline(epc.payload(bic=bic, name=creditor, iban=iban, amount_minor=checkout.amount_minor,
                                      currency=checkout.currency, reference=reference))
        except SimkeepError as exc:
            raise SepaNotUsable(exc.message) from exc
        return ProviderPayment(reference, {
            "type": "bank_transfer", "iban": iban, "bic": bic, "creditor": creditor[:epc.MAX_NAME],
            "reference": reference, "amount_minor": checkout.amount_minor, "currency": checkout.currency,
        })

    def parse_webhook(self, raw_body: bytes, headers: dict[str, str]) -> ProviderEvent:
        raise WebhookRejected("Bank transfers have no webhooks: they are confirmed by importing the bank statement.")

    def fetch_status(self, ref: str) -> ProviderStatus:
        """Succeeded once an imported statement matched the transfer; pending otherwise (a transfer may take days,
        and an under- or over-payment waits in the bank review queue, not here)."""
        with self.db.transaction(write=False) as session:
            entry = bank.transfer_status(session, reference=ref)
        if entry is None:
            return ProviderStatus(ref, "pending")
        return ProviderStatus(ref, "succeeded", entry.amount_minor, entry.currency)

    def refund(self, ref: str, *, amount_minor: int, currency: str, idempotency_key: str) -> RefundResult:
        raise SepaRefundByHand()

    def cancel(self, ref: str) -> ProviderStatus:
        """The reference expires: nothing to call. A transfer a statement already matched is a payment; one that
        arrives later with this reference is not matched to the closed order but held for review (bank.service),
        so it is never lost."""
        status = self.fetch_status(ref)
        return status if status.status == "succeeded" else ProviderStatus(ref, "canceled")
