"""Refunds, full or partial. The credit leaves the subscriber's balance before the provider is called (so it
cannot be spent while the refund is in flight) and comes back only if the provider refuses; an unanswered call
leaves the refund pending for reconciliation, never guessed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import Conflict, IdempotencyKeyReused, InsufficientBalance, InvalidAmount
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.line import service as lines
from simkeep.notification import events, outbox
from simkeep.payment import repository
from simkeep.payment.models import SUCCEEDED, Refund
from simkeep.payment.providers.base import RefundResult
from simkeep.topup import service as topups

PENDING, DONE, REFUSED = "pending", "succeeded", "failed"


class RefundNotAllowed(Conflict):
    code, message = "refund_not_allowed", "Only a paid top-up can be refunded, up to the amount paid."


class RefundExceedsBalance(Conflict):
    code, message = "refund_exceeds_balance", (
        "This refund would take the line's balance below zero: the credit has already been used.")


def request_refund(session: Session, *, attempt_id: uuid.UUID, amount_minor: int, reason: str, actor: str,
                   idempotency_key: str, now: datetime) -> tuple[Refund, bool]:
    """Take the credit back and record the refund; (refund, False) when this key was already used for it."""
    earlier = session.scalars(select(Refund).where(Refund.idempotency_key == idempotency_key)).first()
    if earlier is not None:
        if (earlier.attempt_id, earlier.amount_minor) != (attempt_id, amount_minor):
            raise IdempotencyKeyReused()
        return earlier, False
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise InvalidAmount()
    attempt = repository.get(session, attempt_id, for_update=True)
    if attempt is None or attempt.status != SUCCEEDED or attempt.topup_id is None:
        raise RefundNotAllowed()
    if refunded_minor(session, attempt.id) + amount_minor > attempt.amount_minor:
        raise RefundNotAllowed(f"At most {attempt.amount_minor - refunded_minor(session, attempt.id)} can still be refunded.")
    locked = lines.lock_live_line(session, attempt.msisdn)
    if locked is None:
        raise RefundExceedsBalance()
    line, operator = locked
    topup = topups.get_topup(session, attempt.topup_id)
    credit_before = ledger.balances(session, [line.credit_account_id])[line.credit_account_id]
    refund_id = new_id()
    amount = Money(amount_minor, attempt.currency)
    try:
        ledger.post(session, kind="refund", reference=f"refund:{refund_id}", now=now, legs=[
            Leg(line.credit_account_id, -amount, tracked=True),
            Leg(ledger.clearing_account_id(amount.currency, ledger.provider_clearing(attempt.provider)), amount),
        ])
    except InsufficientBalance as exc:
        raise RefundExceedsBalance() from exc
    previous = None
    if amount_minor == attempt.amount_minor and credit_before >= topup.price_minor:
        # Unused credit refunded in full: validity goes back to what it would have been without this top-up.
        previous = line.validity_ends_at
        lines.shorten_validity(session, line=line, operator=operator,
                               validity_ends_at=validity_without(line.validity_ends_at, topup), now=now)
    session.execute(insert(Refund.__table__), [dict(
        id=refund_id, attempt_id=attempt.id, idempotency_key=idempotency_key, amount_minor=amount_minor,
        currency=attempt.currency, status=PENDING, provider_ref=None, reason=reason, actor=actor,
        previous_validity_ends_at=previous, created_at=now, updated_at=now)])
    audit.record(session, actor=actor, action="refund.requested", subject_type="payment_attempt",
                 subject_id=str(attempt.id), reason=reason, details={"amount_minor": amount_minor}, now=now)
    return session.get_one(Refund, refund_id), True


def validity_without(current_end: datetime, topup) -> datetime:
    """The validity end had this top-up never happened: later top-ups keep what they added."""
    added = topup.validity_ends_at - max(topup.validity_before, topup.created_at)
    return topup.validity_before if current_end == topup.validity_ends_at else current_end - added


def record_outcome(session: Session, refund_id: uuid.UUID, *, result: RefundResult | None, refused: str | None,
                   now: datetime) -> Refund:
    """The provider's answer. Refused: the credit (and validity) come back. No answer: stays pending."""
    refund = session.scalars(select(Refund).where(Refund.id == refund_id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    if refund.status != PENDING:
        return refund
    if result is not None:
        _set(session, refund.id, status=result.status if result.status in (PENDING, DONE) else REFUSED,
             provider_ref=result.ref, updated_at=now)
        if result.status == DONE:
            _notify_refunded(session, refund, now)
        elif result.status not in (PENDING, DONE):
            _give_back(session, refund, now)
    elif refused is not None:
        _set(session, refund.id, status=REFUSED, updated_at=now)
        _give_back(session, refund, now)
    return session.scalars(select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)).one()


def _give_back(session: Session, refund: Refund, now: datetime) -> None:
    attempt = repository.get_one(session, refund.attempt_id)
    locked = lines.lock_live_line(session, attempt.msisdn)
    if locked is None:
        return  # the line ended meanwhile: the money stays with the provider's clearing for staff to handle
    line, operator = locked
    amount = Money(refund.amount_minor, refund.currency)
    ledger.post(session, kind="refund_reversal", reference=f"refund-reversal:{refund.id}", now=now, legs=[
        Leg(line.credit_account_id, amount, tracked=True),
        Leg(ledger.clearing_account_id(amount.currency, ledger.provider_clearing(attempt.provider)), -amount),
    ])
    if refund.previous_validity_ends_at is not None:
        lines.shorten_validity(session, line=line, operator=operator,
                               validity_ends_at=refund.previous_validity_ends_at, now=now)


def _notify_refunded(session: Session, refund: Refund, now: datetime) -> None:
    attempt = repository.get_one(session, refund.attempt_id)
    line = lines.find_live_line(session, attempt.msisdn)
    details = {"msisdn": attempt.msisdn, "amount": {"amount_minor": refund.amount_minor, "currency": refund.currency},
               "refund_id": str(refund.id), "attempt_id": str(attempt.id)}
    line_id = line.id if line else None
    outbox.enqueue(session, [
        outbox.Message(dedup_key=f"payment.refunded:{refund.id}", topic="payment.refunded", channel=outbox.SMS,
                       recipient=attempt.msisdn, language=attempt.language, line_id=line_id, payload=details),
        *events.event_messages(session, topic="payment.refunded", key=str(refund.id), data=details,
                               line_id=line_id, now=now),
    ], now=now)


def refunded_minor(session: Session, attempt_id: uuid.UUID) -> int:
    return session.scalars(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.attempt_id == attempt_id, Refund.status.in_((PENDING, DONE)))).one()


def _set(session: Session, refund_id: uuid.UUID, **values) -> None:
    session.execute(update(Refund.__table__).where(Refund.__table__.c.id == refund_id).values(**values))
