"""The review queue: payments nobody should settle automatically (paid but not creditable, amount differs,
disputed, no answer from the provider). Staff settle each with a reason that goes into the audit log:

- credit: the money is there; the line is credited on the same path as a webhook (top-up, receipt, SMS);
- refund: the money goes back through the provider (payment.flow.refund_review_item, then refunds);
- dismiss: nothing to credit (not paid, or returned outside simkeep: a credit it bought is taken back).

Dismissing or refunding tells the payer by SMS, in the language of their payment page. The attempt row is locked
first, so two people settling one item at once settle it once: the other gets `not_in_review`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import InvalidInput
from simkeep.payment import refunds, repository
from simkeep.payment import service as payments
from simkeep.payment.models import DISMISSED, REVIEW, PaymentAttempt

CREDIT, DISMISS, REFUND = "credit", "dismiss", "refund"
DECISIONS = (CREDIT, REFUND, DISMISS)


def queue(session: Session) -> list[PaymentAttempt]:
    return list(session.scalars(select(PaymentAttempt).where(PaymentAttempt.status == REVIEW)
                                .order_by(PaymentAttempt.updated_at)))


def settle(session: Session, *, attempt_id: uuid.UUID, decision: str, reason: str, actor: str, receipt_secret: str,
           base_url: str, now: datetime) -> PaymentAttempt:
    """Credit or dismiss one review item (a refund calls the provider: payment.flow.refund_review_item)."""
    if decision not in (CREDIT, DISMISS):
        raise InvalidInput("decision must be credit or dismiss")
    attempt = repository.get(session, attempt_id, for_update=True)
    if attempt is None or attempt.status != REVIEW:
        raise payments.NotInReview()
    audit.record(session, actor=actor, action=f"review.{decision}", subject_type="payment_attempt",
                 subject_id=str(attempt.id), reason=reason,
                 details={"was": attempt.failure_reason, "amount_minor": attempt.amount_minor}, now=now)
    if decision == CREDIT:
        # A person decided the money is there: a quote released and then paid is honoured as paid.
        payments.credit(session, attempt, receipt_secret=receipt_secret, base_url=base_url, now=now,
                        honour_quote=True)
    else:
        refunds.record_returned_elsewhere(session, attempt, reason=reason, actor=actor, now=now)
        repository.change(session, attempt.id, status=DISMISSED, updated_at=now)
        payments.release_quote(session, attempt, now=now)
        payments.notify_payer(session, attempt, topic="review.dismissed", key=str(attempt.id), now=now,
                              amount={"amount_minor": attempt.amount_minor, "currency": attempt.currency})
    return repository.get_one(session, attempt.id)
