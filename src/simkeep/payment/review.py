"""The review queue: payments nobody should settle automatically (paid but not creditable, amount differs,
disputed, stuck at the provider). Staff settle them with a reason that goes into the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import InvalidInput, NotFound
from simkeep.ledger import service as ledger
from simkeep.payment import repository
from simkeep.payment.models import FAILED, REVIEW, SUCCEEDED, PaymentAttempt
from simkeep.topup import service as topups

CREDIT, DISMISS = "credit", "dismiss"


class NotInReview(NotFound):
    code, message = "not_in_review", "This payment is not waiting for review."


def queue(session: Session) -> list[PaymentAttempt]:
    return list(session.scalars(select(PaymentAttempt).where(PaymentAttempt.status == REVIEW)
                                .order_by(PaymentAttempt.updated_at)))


def put_in_review(session: Session, attempt_id: uuid.UUID, *, reason: str, now: datetime) -> None:
    repository.change(session, attempt_id, status=REVIEW, failure_reason=reason[:200], updated_at=now)


def settle(session: Session, *, attempt_id: uuid.UUID, decision: str, reason: str, actor: str,
           now: datetime) -> PaymentAttempt:
    """credit: the money is there, credit the line now; dismiss: nothing to credit (not paid, or refunded by
    staff outside simkeep). Refunds of review items go through payment.refunds after a credit, or at the
    provider's dashboard, and are recorded here with dismiss."""
    if decision not in (CREDIT, DISMISS):
        raise InvalidInput("decision must be credit or dismiss")
    attempt = repository.get(session, attempt_id, for_update=True)
    if attempt is None or attempt.status != REVIEW:
        raise NotInReview()
    audit.record(session, actor=actor, action=f"review.{decision}", subject_type="payment_attempt",
                 subject_id=str(attempt.id), reason=reason,
                 details={"was": attempt.failure_reason, "amount_minor": attempt.amount_minor}, now=now)
    if decision == DISMISS:
        repository.change(session, attempt.id, status=FAILED, updated_at=now)
    else:
        result = topups.top_up(session, principal=f"payment:{attempt.provider}", idempotency_key=f"payment:{attempt.id}",
                               msisdn=attempt.msisdn, offer_id=attempt.offer_id, channel="portal", now=now,
                               clearing=ledger.provider_clearing(attempt.provider))
        repository.change(session, attempt.id, status=SUCCEEDED, topup_id=result.topup.id, updated_at=now)
    return repository.get_one(session, attempt.id)
