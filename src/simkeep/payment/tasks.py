"""Worker job: apply stored provider webhooks, one transaction per event."""

from __future__ import annotations

import structlog

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.payment import reconcile as reconciliation
from simkeep.payment import refunds, service
from simkeep.payment.providers import ProviderDisabled, provider_named
from simkeep.payment.providers.base import ProviderDeclined, ProviderUnavailable

log = structlog.get_logger()


def process_inbox(db: Database, settings: Settings, *, batch: int = 50) -> int:
    handled = 0
    while True:
        with db.transaction() as session:
            events = service.claim_events(session, limit=1)
            if not events:
                return handled
            outcome = service.handle_event(session, events[0], receipt_secret=settings.key("receipt"),
                                           base_url=settings.base_url, now=clock.now())
        log.info("webhook.handled", provider=events[0].provider, event_id=events[0].event_id, outcome=outcome)
        handled += 1
        if handled >= batch:
            return handled


def reconcile(db: Database, settings: Settings) -> int:
    """Ask the providers about attempts that heard nothing for a while; record what they say."""
    with db.transaction(write=False) as session:
        attempts = reconciliation.stuck(session, now=clock.now())
    for attempt in attempts:
        try:
            provider = provider_named(attempt.provider, db, settings)
        except ProviderDisabled:
            # e.g. a sandbox attempt from a demo, now that the sandbox is off: nobody can answer for it.
            log.warning("payment.provider_disabled", attempt=str(attempt.id), provider=attempt.provider)
            continue
        try:
            # Providers that capture separately (PayPal) capture here: an approved order whose payer closed the
            # tab gets paid, and a capture that timed out is replayed safely under the same key.
            ref = attempt.provider_ref
            assert ref is not None  # stuck() lists only attempts a provider answered
            capture = getattr(provider, "capture", None)
            status = capture(ref, f"capture:{attempt.id}") if capture else provider.fetch_status(ref)
        except ProviderUnavailable:
            status = None  # no answer is not an answer: ask again later
        with db.transaction() as session:
            outcome = reconciliation.apply_status(session, attempt, status, now=clock.now())
        log.info("payment.reconciled", attempt=str(attempt.id), outcome=outcome)
    return len(attempts)


def refund(db: Database, settings: Settings, *, attempt_id, amount_minor: int, reason: str, actor: str,
           idempotency_key: str):
    """Take the credit back, ask the provider, record its answer: three steps, the call outside any transaction."""
    refund_row, new = db.write(lambda session: refunds.request_refund(
        session, attempt_id=attempt_id, amount_minor=amount_minor, reason=reason, actor=actor,
        idempotency_key=idempotency_key, now=clock.now()))
    if not new and refund_row.status != refunds.PENDING:
        return refund_row
    with db.transaction(write=False) as session:
        attempt = service.get_attempt(session, refund_row.attempt_id)
    try:
        provider = provider_named(attempt.provider, db, settings)
    except ProviderDisabled:
        return refund_row  # stays pending for review: the provider that took the payment is off here
    result, refused = None, None
    assert attempt.provider_ref is not None  # only a succeeded payment is refunded
    try:
        result = provider.refund(attempt.provider_ref, amount_minor=refund_row.amount_minor,
                                 currency=refund_row.currency, idempotency_key=str(refund_row.id))
    except ProviderDeclined as exc:
        refused = exc.message
    except ProviderUnavailable:
        return refund_row  # unknown: stays pending for reconciliation and review, never retried blindly here
    with db.transaction() as session:
        return refunds.record_outcome(session, refund_row.id, result=result, refused=refused, now=clock.now())
