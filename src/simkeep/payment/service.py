"""Paying for a renewal: record the attempt, let the provider collect, credit only on a verified success.

The provider is called outside any transaction (the boundary does: start -> commit -> provider -> record).
Webhooks are stored once per (provider, event id) and handled by the worker; the top-up they trigger carries the
attempt's id as its idempotency key, so no number of deliveries credits twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.core.errors import LineNotRenewable, NotFound, ValidityCapReached
from simkeep.core.ids import new_id
from simkeep.ledger import service as ledger
from simkeep.payment import refunds, repository
from simkeep.payment.models import CREATED, FAILED, FINAL, PENDING, REVIEW, SUCCEEDED, InboxEvent, PaymentAttempt
from simkeep.payment.providers.base import (
    DISPUTED,
    REFUNDED,
    ProviderEvent,
    ProviderPayment,
    ProviderStatus,
)
from simkeep.payment.providers.base import FAILED as EVENT_FAILED
from simkeep.payment.providers.base import SUCCEEDED as EVENT_SUCCEEDED
from simkeep.receipt import service as receipts
from simkeep.topup import service as topups


class AttemptNotFound(NotFound):
    code, message = "payment_not_found", "No such payment."


def start_checkout(session: Session, *, checkout_key: str, line, operator, offer, method: str, provider: str,
                   language: str, now: datetime) -> tuple[PaymentAttempt, bool]:
    """The attempt for this checkout; (attempt, False) when a double-click or reload already started it."""
    earlier = repository.by_checkout_key(session, checkout_key)
    if earlier is not None:
        return earlier, False
    row = dict(id=new_id(), checkout_key=checkout_key, line_id=line.id, msisdn=line.msisdn, offer_id=offer.id,
               amount_minor=offer.price_minor, currency=operator.currency, method=method, provider=provider,
               provider_ref=None, next_action=None, status=CREATED, failure_reason=None, language=language,
               topup_id=None, receipt_id=None, created_at=now, updated_at=now)
    repository.add(session, **row)
    return PaymentAttempt(**row), True


def record_created(session: Session, attempt_id: uuid.UUID, payment: ProviderPayment, *, now: datetime) -> None:
    repository.change(session, attempt_id, provider_ref=payment.ref, next_action=payment.next_action,
                      status=PENDING, updated_at=now)


def record_unavailable(session: Session, attempt_id: uuid.UUID, *, reason: str, now: datetime) -> None:
    repository.change(session, attempt_id, status=FAILED, failure_reason=reason, updated_at=now)


def get_attempt(session: Session, attempt_id) -> PaymentAttempt:
    try:
        attempt = repository.get(session, uuid.UUID(str(attempt_id)))
    except ValueError:
        attempt = None
    if attempt is None:
        raise AttemptNotFound()
    return attempt


def store_event(session: Session, *, provider: str, event: ProviderEvent, now: datetime) -> bool:
    """Into the inbox; False for a duplicate or a replay of an event already stored."""
    return repository.store_event(session, id=new_id(), provider=provider, event_id=event.event_id,
                                  type=event.type, payload=event.stored(), received_at=now, processed_at=None,
                                  outcome=None)


def claim_events(session: Session, *, limit: int = 50) -> list[InboxEvent]:
    return repository.claim_events(session, limit)


def handle_event(session: Session, event: InboxEvent, *, receipt_secret: str, base_url: str, now: datetime) -> str:
    """Apply one stored webhook. Success wins over failure (money was taken); nothing undoes a success."""
    data = event.payload
    attempt = repository.by_provider_ref(session, event.provider, str(data.get("ref")))
    if attempt is None:
        outcome = "unknown payment"
    elif event.type in (DISPUTED, REFUNDED):
        outcome = _money_taken_back(session, attempt, event.type, data, now)
    elif attempt.status in FINAL:
        outcome = f"ignored: already {attempt.status}"
    elif event.type == "payment.succeeded":
        outcome = _succeed(session, attempt, data, receipt_secret=receipt_secret, base_url=base_url, now=now)
    elif event.type == "payment.failed":
        repository.change(session, attempt.id, status=FAILED, failure_reason=str(data.get("failure") or "failed"),
                          updated_at=now)
        outcome = "failed"
    else:
        outcome = f"ignored: {event.type}"
    repository.mark_processed(session, event.id, outcome=outcome, now=now)
    return outcome


def _money_taken_back(session: Session, attempt: PaymentAttempt, kind: str, data: dict, now: datetime) -> str:
    """A dispute, or a refund made at the provider rather than through simkeep: a person decides what happens to
    the credit. Our own refunds come back as events too; those are already accounted for."""
    if kind == REFUNDED and (data.get("amount_minor") or 0) <= refunds.refunded_minor(session, attempt.id):
        return "ignored: refund made through simkeep"
    reason = "disputed by the payer" if kind == DISPUTED else "refunded at the provider"
    return _review(session, attempt, reason, now)


def record_status(session: Session, attempt: PaymentAttempt, status: ProviderStatus, *, source: str,
                  now: datetime) -> bool:
    """A definite answer obtained by asking the provider (capture on return, reconciliation) goes through the
    inbox like a webhook: applied once, by the same code. Returns False for answers that are not definite."""
    if status.status not in ("succeeded", "failed") or attempt.provider_ref is None:
        return False
    store_event(session, provider=attempt.provider, now=now, event=ProviderEvent(
        event_id=f"{source}:{attempt.id}:{status.status}", type=EVENT_SUCCEEDED if status.status == "succeeded" else EVENT_FAILED,
        payment_ref=attempt.provider_ref, amount_minor=status.amount_minor, currency=status.currency,
        failure=status.failure))
    return True


def _succeed(session: Session, attempt: PaymentAttempt, data: dict, *, receipt_secret: str, base_url: str,
             now: datetime) -> str:
    if (data.get("amount_minor"), data.get("currency")) != (attempt.amount_minor, attempt.currency):
        return _review(session, attempt, "amount paid differs from the order", now)
    receipt_id = new_id()
    receipt_url = f"{base_url}/receipts/{receipts.token_for(receipt_secret, receipt_id)}"
    try:
        with session.begin_nested():
            result = topups.top_up(session, principal=f"payment:{attempt.provider}",
                                   idempotency_key=f"payment:{attempt.id}", msisdn=attempt.msisdn,
                                   offer_id=attempt.offer_id, channel="portal", now=now,
                                   notify={"receipt_url": receipt_url},
                                   clearing=ledger.provider_clearing(attempt.provider))
    except (LineNotRenewable, ValidityCapReached) as exc:
        # Paid but cannot be credited: a person decides (refund or manual credit); never an automatic refund.
        return _review(session, attempt, f"paid but {exc.code}", now)
    receipt = receipts.issue(session, receipt_id=receipt_id, topup=result.topup, operator_id=catalog.operator_of_offer(session, attempt.offer_id),
                             line_id=result.topup.line_id, payment_method=attempt.method, language=attempt.language,
                             now=now)
    repository.change(session, attempt.id, status=SUCCEEDED, topup_id=result.topup.id, receipt_id=receipt.id,
                      failure_reason=None, updated_at=now)
    return f"credited {result.topup.id}"


def _review(session: Session, attempt: PaymentAttempt, reason: str, now: datetime) -> str:
    repository.change(session, attempt.id, status=REVIEW, failure_reason=reason, updated_at=now)
    return f"review: {reason}"


def recent_for_line(session: Session, line_id) -> list[PaymentAttempt]:
    return repository.recent_for_line(session, line_id)

