"""The sandbox payment service provider: it keeps its own payments, plays card / 3-D Secure / PayPal / QR wallet /
bank transfer outcomes, and tells simkeep by signed webhook (delivered by the worker, with retries)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from simkeep.core.errors import InvalidInput, NotFound
from simkeep.notification import outbox
from simkeep.sandbox.models import SandboxPayment

# Test cards, as payment providers document them.
APPROVE_CARD, DECLINE_CARD, CHALLENGE_CARD = "4242424242424242", "4000000000000002", "4000002760003184"
REQUIRES_PAYMENT, REQUIRES_ACTION, AWAITING_TRANSFER = "requires_payment", "requires_action", "awaiting_transfer"
SUCCEEDED, FAILED = "succeeded", "failed"
OPEN = (REQUIRES_PAYMENT, REQUIRES_ACTION, AWAITING_TRANSFER)


class PaymentNotFound(NotFound):
    code, message = "payment_not_found", "No such sandbox payment."


def structured_reference(ref: str) -> str:
    """An ISO 11649 creditor reference (RF…), as banks expect in the transfer's remittance field."""
    body = ref.replace("_", "").upper()[-21:]
    return iso11649.format("RF" + mod_97_10.calc_check_digits(body + "RF") + body)


def create_payment(session: Session, *, merchant_ref: str, amount_minor: int, currency: str, method: str,
                   description: str, return_url: str, language: str, now: datetime) -> SandboxPayment:
    ref = f"sbx_{secrets.token_hex(12)}"
    row = dict(ref=ref, merchant_ref=merchant_ref, amount_minor=amount_minor, currency=currency, method=method,
               description=description, return_url=return_url, language=language,
               status=AWAITING_TRANSFER if method == "bank_transfer" else REQUIRES_PAYMENT,
               transfer_reference=structured_reference(ref) if method == "bank_transfer" else None,
               events=0, refunded_minor=0, refund_refs=[], created_at=now, updated_at=now)
    session.execute(insert(SandboxPayment.__table__), [row])
    return SandboxPayment(**row)


def get_payment(session: Session, ref: str, *, for_update: bool = False) -> SandboxPayment:
    # populate_existing: after a Core UPDATE in this session, the identity map still holds the old row.
    stmt = select(SandboxPayment).where(SandboxPayment.ref == ref).execution_options(populate_existing=True)
    payment = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if payment is None:
        raise PaymentNotFound()
    return payment


def act(session: Session, *, ref: str, action: str, card_number: str = "", webhook_url: str,
        now: datetime) -> SandboxPayment:
    """The payer's action on the hosted page. Final outcomes are announced by webhook exactly once."""
    payment = get_payment(session, ref, for_update=True)
    if payment.status not in OPEN:
        return payment  # a reload or a second click: the outcome is already decided
    status, failure = _outcome(payment, action, card_number.replace(" ", ""))
    session.execute(update(SandboxPayment.__table__).where(SandboxPayment.__table__.c.ref == ref)
                    .values(status=status, updated_at=now))
    if status in (SUCCEEDED, FAILED):
        announce(session, payment, status=status, failure=failure, webhook_url=webhook_url, now=now)
    return get_payment(session, ref)


def _outcome(payment: SandboxPayment, action: str, card_number: str) -> tuple[str, str | None]:
    match (payment.method, payment.status, action):
        case ("card", "requires_payment", "pay"):
            return {APPROVE_CARD: (SUCCEEDED, None), DECLINE_CARD: (FAILED, "card_declined"),
                    CHALLENGE_CARD: (REQUIRES_ACTION, None)}.get(card_number, (FAILED, "card_declined"))
        case ("card", "requires_action", "authenticate"):
            return SUCCEEDED, None
        case ("card", "requires_action", "fail_authentication"):
            return FAILED, "authentication_failed"
        case ("paypal", _, "approve") | ("wechat_pay" | "alipay", _, "scan") | ("bank_transfer", _, "funds_received"):
            return SUCCEEDED, None
        case (_, _, "cancel"):
            return FAILED, "canceled"
    raise InvalidInput(f"{action} is not possible for a {payment.method} payment in state {payment.status}")


def refund(session: Session, *, ref: str, amount_minor: int, currency: str, idempotency_key: str,
           now: datetime) -> str:
    """Refund part or all of a captured payment; the same idempotency key answers with the same refund."""
    payment = get_payment(session, ref, for_update=True)
    if payment.status != SUCCEEDED or currency != payment.currency:
        raise InvalidInput("only a captured payment can be refunded, in its own currency")
    refunded = payment.refunded_minor
    refund_ref = f"re_{idempotency_key}"[:64]
    if refund_ref in (payment.refund_refs or []):
        return refund_ref
    if refunded + amount_minor > payment.amount_minor:
        raise InvalidInput("refunds would exceed the captured amount")
    session.execute(update(SandboxPayment.__table__).where(SandboxPayment.__table__.c.ref == ref).values(
        refunded_minor=refunded + amount_minor, refund_refs=[*(payment.refund_refs or []), refund_ref], updated_at=now))
    return refund_ref


def cancel(session: Session, *, ref: str, now: datetime) -> bool:
    """The merchant closes a payment nobody completed (a transfer's reference expires): True when it was still
    open, and nobody can pay it any more; False when it had an outcome already."""
    payment = get_payment(session, ref, for_update=True)
    if payment.status not in OPEN:
        return False
    session.execute(update(SandboxPayment.__table__).where(SandboxPayment.__table__.c.ref == ref)
                    .values(status=FAILED, updated_at=now))
    return True


ABANDON_AFTER_MINUTES = 30


def expire_abandoned(session: Session, *, webhook_url: str, now: datetime) -> int:
    """Like a hosted checkout session, a payment nobody completes expires (bank transfers wait longer: they are
    confirmed by the bank, not by the payer)."""
    cutoff = now - timedelta(minutes=ABANDON_AFTER_MINUTES)
    table = SandboxPayment.__table__
    stale = session.scalars(select(SandboxPayment).where(
        table.c.status.in_((REQUIRES_PAYMENT, REQUIRES_ACTION)), table.c.created_at <= cutoff).with_for_update()).all()
    for payment in stale:
        session.execute(update(table).where(table.c.ref == payment.ref).values(status=FAILED, updated_at=now))
        announce(session, payment, status=FAILED, failure="expired", webhook_url=webhook_url, now=now)
    return len(stale)


def announce(session: Session, payment: SandboxPayment, *, status: str, failure: str | None, webhook_url: str,
             now: datetime) -> None:
    event_id = f"evt_{payment.ref}_{status}"
    outbox.enqueue(session, [outbox.Message(
        dedup_key=f"sandbox:{event_id}", topic="webhook.sandbox", channel=outbox.WEBHOOK, recipient=webhook_url,
        language="en", payload={
            "id": event_id, "type": f"payment.{status}", "created": int(now.timestamp()),
            "data": {"ref": payment.ref, "merchant_ref": payment.merchant_ref, "amount_minor": payment.amount_minor,
                     "currency": payment.currency, "method": payment.method, "failure": failure},
        },
    )], now=now)


# -- saved methods and off-session charges (auto-renew) ---------------------------------------------------------

# A saved sandbox method plays, on every later charge, what its test card plays on the pay page (as Stripe's test
# payment methods pm_card_visa, pm_card_authenticationRequired and pm_card_chargeDeclined do).
SAVED_KINDS = {APPROVE_CARD: "visa", CHALLENGE_CARD: "authenticationRequired", DECLINE_CARD: "chargeDeclined"}


def save_test_card(card_number: str) -> tuple[str, str]:
    """(method ref, label) for a test card the payer entered on the sandbox's setup form."""
    number = card_number.replace(" ", "")
    kind = SAVED_KINDS.get(number)
    if kind is None:
        raise InvalidInput("The sandbox saves only its test cards.")
    return f"pm_sbx_{kind}_{secrets.token_hex(8)}", f"Visa •••• {number[-4:]}"


def charge_saved(session: Session, *, merchant_ref: str, method_ref: str, amount_minor: int, currency: str,
                 description: str, return_url: str, language: str, webhook_url: str,
                 now: datetime) -> SandboxPayment:
    """Charge a saved method with nobody present. The merchant's key (`merchant_ref`) is idempotent: asked again,
    the sandbox answers with the payment it made the first time. A method that needs authentication leaves a card
    payment in requires_action: its owner completes it on the pay page (the 3-D Secure step)."""
    earlier = session.scalars(select(SandboxPayment).where(SandboxPayment.merchant_ref == merchant_ref)).first()
    if earlier is not None:
        return earlier
    parts = method_ref.split("_")
    kind = parts[2] if len(parts) == 4 and parts[:2] == ["pm", "sbx"] else ""
    if kind not in SAVED_KINDS.values():
        raise PaymentNotFound()
    status = {"visa": SUCCEEDED, "authenticationRequired": REQUIRES_ACTION, "chargeDeclined": FAILED}[kind]
    payment = create_payment(session, merchant_ref=merchant_ref, amount_minor=amount_minor, currency=currency,
                             method="card", description=description, return_url=return_url, language=language,
                             now=now)
    session.execute(update(SandboxPayment.__table__).where(SandboxPayment.__table__.c.ref == payment.ref)
                    .values(status=status))
    if status in (SUCCEEDED, FAILED):
        announce(session, payment, status=status, failure="card_declined" if status == FAILED else None,
                 webhook_url=webhook_url, now=now)
    return get_payment(session, payment.ref)


def failure_of(payment: SandboxPayment) -> str | None:
    return "card_declined" if payment.status == FAILED else None
