"""Refunds: of a paid top-up, full or partial; of a payment in review, whole. A credit the payment bought leaves the
subscriber's balance before the provider is called (so it cannot be spent while the refund is in flight) and
comes back only if the provider refuses; a payment that was never credited moves nothing in the ledger (its money
never reached a balance). An unanswered call leaves the refund pending for reconciliation, never guessed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core import idempotency
from simkeep.core.errors import Conflict, InsufficientBalance, InvalidAmount
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.line import service as lines
from simkeep.notification import events, outbox
from simkeep.payment import repository
from simkeep.payment import service as payments
from simkeep.payment.models import REFUNDED, REVIEW, SUCCEEDED, PaymentAttempt, Refund
from simkeep.payment.providers.base import RefundResult
from simkeep.promotion import cashback
from simkeep.topup import service as topups

PENDING, DONE, REFUSED = "pending", "succeeded", "failed"


class RefundNotAllowed(Conflict):
    code, message = "refund_not_allowed", "Only a paid top-up can be refunded, up to the amount paid."


class RefundExceedsBalance(Conflict):
    code, message = "refund_exceeds_balance", (
        "This refund would take the line's balance below zero: the credit has already been used.")


class NothingCaptured(Conflict):
    code, message = "nothing_captured", (
        "The payment service holds no captured payment for this order: there is nothing to refund through it.")


def request_refund(session: Session, *, attempt_id: uuid.UUID, amount_minor: int, reason: str, actor: str,
                   idempotency_key: str, now: datetime) -> tuple[Refund, bool]:
    """Take the credit back and record the refund of (part of) a paid top-up; (refund, False) when this key was
    already used for it."""
    earlier = idempotency.replay(repository.refund_by_key(session, idempotency_key),
                                 idempotency.fingerprint(attempt_id, amount_minor), hash_of=_fingerprint)
    if earlier is not None:
        return earlier, False
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise InvalidAmount()
    attempt = repository.get(session, attempt_id, for_update=True)
    if attempt is None or attempt.status != SUCCEEDED or attempt.topup_id is None:
        raise RefundNotAllowed()
    left = attempt.amount_minor - repository.refunded_minor(session, attempt.id)
    if amount_minor > left:
        raise RefundNotAllowed(f"At most {left} can still be refunded.")
    refund = _record(session, attempt, amount_minor=amount_minor, status=PENDING, reason=reason, actor=actor,
                     idempotency_key=idempotency_key, now=now)
    audit.record(session, actor=actor, action="refund.requested", subject_type="payment_attempt",
                 subject_id=str(attempt.id), reason=reason, details={"amount_minor": amount_minor}, now=now)
    return refund, True


def refund_review_item(session: Session, *, attempt_id: uuid.UUID, held: Money | None, reason: str, actor: str,
                       idempotency_key: str, now: datetime) -> tuple[Refund, bool]:
    """Send a payment in review back, whole: it leaves review as `refunded` in this transaction, so a second
    person (or a second click with another key) finds it settled. A credited payment (a dispute, a refund at the
    provider) has its credit taken back first; one never credited refunds what the provider holds (`held`: an
    amount that differs from the order's is refunded as paid), and nothing in the ledger moves.
    (refund, False) when this key was already used for this payment."""
    earlier = idempotency.replay(repository.refund_by_key(session, idempotency_key),
                                 idempotency.fingerprint(attempt_id), hash_of=lambda r: idempotency.fingerprint(r.attempt_id))
    if earlier is not None:
        return earlier, False
    attempt = repository.get(session, attempt_id, for_update=True)
    if attempt is None or attempt.status != REVIEW:
        raise payments.NotInReview()
    credited = attempt.topup_id is not None
    if credited:
        amount_minor = attempt.amount_minor
    elif held is None or held.currency != attempt.currency:
        raise NothingCaptured()
    else:
        amount_minor = held.minor
    amount_minor -= repository.refunded_minor(session, attempt.id)
    if amount_minor <= 0:
        raise RefundNotAllowed("This payment has been refunded already.")
    audit.record(session, actor=actor, action="review.refund", subject_type="payment_attempt",
                 subject_id=str(attempt.id), reason=reason,
                 details={"was": attempt.failure_reason, "amount_minor": amount_minor, "credited": credited}, now=now)
    refund = _record(session, attempt, amount_minor=amount_minor, status=PENDING, reason=reason, actor=actor,
                     idempotency_key=idempotency_key, now=now)
    repository.change(session, attempt.id, status=REFUNDED, updated_at=now)
    payments.release_quote(session, attempt, now=now)  # never credited: its quote's budget goes back
    return refund, True


def record_returned_elsewhere(session: Session, attempt: PaymentAttempt, *, reason: str, actor: str,
                              now: datetime) -> Refund | None:
    """The money of a credited payment went back outside simkeep (a chargeback, a refund in the provider's
    dashboard): the credit is taken back and the refund recorded as done, with no provider call. None when
    nothing is left to take back."""
    left = attempt.amount_minor - repository.refunded_minor(session, attempt.id)
    if attempt.topup_id is None or left <= 0:
        return None
    return _record(session, attempt, amount_minor=left, status=DONE, reason=reason, actor=actor,
                   idempotency_key=f"elsewhere:{attempt.id}:{new_id()}", now=now)


def _record(session: Session, attempt: PaymentAttempt, *, amount_minor: int, status: str, reason: str, actor: str,
            idempotency_key: str, now: datetime) -> Refund:
    refund_id = new_id()
    previous = _take_back(session, attempt, amount_minor, refund_id, now) if attempt.topup_id else None
    session.execute(insert(Refund.__table__), [dict(
        id=refund_id, attempt_id=attempt.id, idempotency_key=idempotency_key, amount_minor=amount_minor,
        currency=attempt.currency, status=status, provider_ref=None, reason=reason.strip()[:200], actor=actor,
        previous_validity_ends_at=previous, created_at=now, updated_at=now)])
    return session.get_one(Refund, refund_id)


def _take_back(session: Session, attempt: PaymentAttempt, amount_minor: int, refund_id: uuid.UUID,
               now: datetime) -> datetime | None:
    """The credit leaves the line that got it; returns the validity end to restore if the provider refuses
    (None: validity was kept)."""
    locked = lines.lock_live_line(session, attempt.msisdn)
    if locked is None or locked[0].id != attempt.line_id:
        raise RefundExceedsBalance()  # the line ended: its balance went with it
    line, operator = locked
    topup = topups.get_topup(session, attempt.topup_id)
    credit_before = ledger.balances(session, [line.credit_account_id])[line.credit_account_id]
    amount = Money(amount_minor, attempt.currency)
    try:
        ledger.post(session, kind="refund", reference=f"refund:{refund_id}", now=now, legs=[
            Leg(line.credit_account_id, -amount, tracked=True),
            Leg(_clearing(attempt, amount.currency), amount),
        ])
    except InsufficientBalance as exc:
        raise RefundExceedsBalance() from exc
    # A partner's conversion is reversed and a customer's cashback cancelled or clawed back (kept so if the provider
    # then refuses the refund: the renewal was disputed, the commission and cashback are not owed on it).
    cashback.on_refund(session, topup.id, bonus_account_id=line.bonus_account_id, now=now)
    if amount_minor != attempt.amount_minor or credit_before < topup.price_minor:
        return None
    # Unused credit refunded in full: validity goes back to what it would have been without this top-up.
    previous = line.validity_ends_at
    lines.shorten_validity(session, line=line, operator=operator,
                           validity_ends_at=topups.validity_without(line.validity_ends_at, topup), now=now)
    return previous


def record_outcome(session: Session, refund_id: uuid.UUID, *, result: RefundResult | None, refused: str | None,
                   now: datetime) -> Refund:
    """The provider's answer. Refused: the credit (and validity) come back, and a payment refunded from review
    goes back to review. No answer: stays pending."""
    refund = session.scalars(select(Refund).where(Refund.id == refund_id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    if refund.status != PENDING:
        return refund
    status = None
    if result is not None:
        status = result.status if result.status in (PENDING, DONE) else REFUSED
        _set(session, refund.id, status=status, provider_ref=result.ref, updated_at=now)
    elif refused is not None:
        status = REFUSED
        _set(session, refund.id, status=REFUSED, updated_at=now)
    attempt = repository.get_one(session, refund.attempt_id, for_update=True)
    if status == DONE:
        _notify_refunded(session, attempt, refund, now)
    elif status == REFUSED:
        _give_back(session, attempt, refund, now)
        if attempt.status == REFUNDED:
            payments.hold_for_review(session, attempt.id, reason="refund_refused", now=now,
                                     detail=refused or (result.ref if result else None))
    return session.scalars(select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)).one()


def _give_back(session: Session, attempt: PaymentAttempt, refund: Refund, now: datetime) -> None:
    if attempt.topup_id is None:
        return  # nothing was taken back: the payment never reached a balance
    locked = lines.lock_live_line(session, attempt.msisdn)
    if locked is None or locked[0].id != attempt.line_id:
        return  # the line ended meanwhile: the money stays with the provider's clearing for staff to handle
    line, operator = locked
    amount = Money(refund.amount_minor, refund.currency)
    ledger.post(session, kind="refund_reversal", reference=f"refund-reversal:{refund.id}", now=now, legs=[
        Leg(line.credit_account_id, amount, tracked=True),
        Leg(_clearing(attempt, amount.currency), -amount),
    ])
    if refund.previous_validity_ends_at is not None:
        lines.shorten_validity(session, line=line, operator=operator,
                               validity_ends_at=refund.previous_validity_ends_at, now=now)


def _notify_refunded(session: Session, attempt: PaymentAttempt, refund: Refund, now: datetime) -> None:
    """The payer hears of it by SMS; a payment refunded from review says it could not be credited, as the pay
    page promised ("our team will credit your line or refund you")."""
    amount = {"amount_minor": refund.amount_minor, "currency": refund.currency}
    topic = "review.refunded" if attempt.status == REFUNDED else "payment.refunded"
    payments.notify_payer(session, attempt, topic=topic, key=str(refund.id), amount=amount, now=now)
    details = {"msisdn": attempt.msisdn, "amount": amount, "refund_id": str(refund.id), "attempt_id": str(attempt.id)}
    line = lines.find_live_line(session, attempt.msisdn)
    outbox.enqueue(session, events.event_messages(session, topic="payment.refunded", key=str(refund.id), data=details,
                                                  line_id=line.id if line else None, now=now), now=now)


def _clearing(attempt: PaymentAttempt, currency: str) -> uuid.UUID:
    return ledger.clearing_account_id(currency, ledger.provider_clearing(attempt.provider))


def _fingerprint(refund: Refund) -> str:
    return idempotency.fingerprint(refund.attempt_id, refund.amount_minor)


def _set(session: Session, refund_id: uuid.UUID, **values) -> None:
    session.execute(update(Refund.__table__).where(Refund.__table__.c.id == refund_id).values(**values))

