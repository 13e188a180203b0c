"""The payment flow: every sequence that calls a payment provider, in one place. Start a checkout, capture when the
payer comes back, refund (a paid top-up, or a payment in review), and check or cancel an attempt that heard
nothing. The portal, the back office, the CLI and the worker call these; none of them imports a provider.

Each sequence has one shape (DESIGN §3.2): record the intent and commit → call the provider outside any
transaction → record its answer in a new transaction. A provider that cannot be reached leaves the intent as it
is, never an assumed outcome: the next try, or reconciliation, finishes the job."""

from __future__ import annotations

import uuid
from typing import cast

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import InvalidAmount, InvalidInput
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.payment import reconcile, refunds
from simkeep.payment import service as payments
from simkeep.payment.models import ABANDONED, PENDING, PaymentAttempt, Refund
from simkeep.payment.providers import ProviderDisabled, available_methods, provider_for, provider_named, route
from simkeep.payment.providers.base import (
    Checkout,
    MethodSetup,
    OffSessionCharge,
    PaymentProvider,
    ProviderDeclined,
    ProviderStatus,
    ProviderUnavailable,
    SavedRef,
    SavesMethods,
)

__all__ = ["available_methods", "cancel_off_session", "capture_on_return", "charge_saved", "check_stuck",
           "finish_saving", "refund", "refund_review_item", "returned_from_provider", "start_checkout",
           "start_saving"]
DEFINITE = ("succeeded", "failed")
SAVERS = ("sandbox", "stripe", "paypal")  # providers that save a method and charge it off-session


# -- checkout --------------------------------------------------------------------------------------------------

def start_checkout(db: Database, settings: Settings, *, line, operator, offer, checkout_key: str, method: str,
                   language: str, quote_id=None) -> tuple[uuid.UUID, dict | None]:
    """(attempt id, the payer's next action or None when the provider could not take it). Pays once: the
    checkout key is unique, so a double-click or a reload finds the first attempt and its next action.

    Charges exactly the quote the payer was shown (`quote_id`), held with the attempt in one transaction; raises
    QuoteExpired, PromotionUnavailable (and the other quote errors) with nothing recorded: quote again and show it."""
    provider = provider_for(method, operator.id, db, settings)
    # Two confirms at once race on the unique checkout key; the loser is retried and finds the winner's attempt.
    attempt, new = db.write(lambda session: payments.start_checkout(
        session, checkout_key=checkout_key, line=line, operator=operator, offer=offer, method=method,
        provider=provider.name, language=language, now=clock.now(), quote_id=quote_id))
    if not new:
        return attempt.id, attempt.next_action
    checkout = Checkout(attempt_id=str(attempt.id), amount_minor=attempt.amount_minor, currency=attempt.currency,
                        method=attempt.method, description=f"{operator.brand} {operator.product} {line.msisdn}",
                        return_url=f"/pay/{attempt.id}", language=language)
    try:
        created = provider.create_payment(checkout)
    except (ProviderUnavailable, ProviderDeclined, InvalidAmount) as exc:
        # Nothing was created at the provider (creation is idempotent on the attempt id): say so and stop.
        with db.transaction() as session:
            payments.record_unavailable(session, attempt.id, reason=exc.code, now=clock.now())
        return attempt.id, None
    with db.transaction() as session:
        payments.record_created(session, attempt.id, created, now=clock.now())
    return attempt.id, created.next_action


def returned_from_provider(attempt: PaymentAttempt, token: str | None, *, approved: bool, cancelled: bool) -> bool:
    """The payer is back from a provider that captures separately, carrying the ref of a payment not yet paid
    (pending, or closed as abandoned meanwhile: an approval that comes late is still honoured)."""
    return (bool(token) and token == attempt.provider_ref and attempt.status in (PENDING, ABANDONED)
            and (approved or cancelled))


def capture_on_return(db: Database, settings: Settings, attempt: PaymentAttempt, *, cancelled: bool) -> None:
    """The payer approved (or cancelled): capture now and record a definite answer through the inbox. No answer:
    the result page keeps polling and reconciliation finishes the job; an unknown outcome is never recorded as a
    failure."""
    try:
        provider = provider_named(attempt.provider, db, settings)
    except ProviderDisabled:
        return  # a provider no longer configured: the webhook or reconciliation settles the attempt
    capture = getattr(provider, "capture", None)
    if capture is None or attempt.provider_ref is None:
        # This provider settles by itself (the sandbox, Stripe): a return, whatever its query says, changes
        # nothing; its webhook tells the outcome.
        return
    if cancelled:
        outcome = ProviderStatus(attempt.provider_ref, "failed", failure="canceled")
    else:
        try:
            outcome = capture(attempt.provider_ref, f"capture:{attempt.id}")
        except ProviderUnavailable:
            return
    with db.transaction() as session:
        payments.record_status(session, attempt, outcome, source="capture", now=clock.now())


# -- refunds ---------------------------------------------------------------------------------------------------

def refund(db: Database, settings: Settings, *, attempt_id: uuid.UUID, amount_minor: int, reason: str, actor: str,
           idempotency_key: str) -> Refund:
    """Refund (part of) a paid top-up: take the credit back, ask the provider, record its answer."""
    refund_row, new = db.write(lambda session: refunds.request_refund(
        session, attempt_id=attempt_id, amount_minor=amount_minor, reason=reason, actor=actor,
        idempotency_key=idempotency_key, now=clock.now()))
    return _ask_provider_to_refund(db, settings, refund_row, new)


def refund_review_item(db: Database, settings: Settings, *, attempt_id: uuid.UUID, reason: str, actor: str,
                       idempotency_key: str) -> Refund:
    """Send a payment in review back, whole. A payment never credited refunds what the provider says it holds,
    asked first (so an amount that differs from the order is refunded as paid); nothing is recorded when the
    provider cannot say, or holds nothing."""
    if not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    with db.transaction(write=False) as session:
        attempt = payments.get_attempt(session, attempt_id)
    held = None
    if attempt.topup_id is None:
        status = _provider(db, settings, attempt).fetch_status(attempt.provider_ref or "")
        if status.status == "succeeded" and status.amount_minor is not None and status.currency:
            held = Money(status.amount_minor, status.currency.upper())
    refund_row, new = db.write(lambda session: refunds.refund_review_item(
        session, attempt_id=attempt.id, held=held, reason=reason, actor=actor, idempotency_key=idempotency_key,
        now=clock.now()))
    return _ask_provider_to_refund(db, settings, refund_row, new)


def _ask_provider_to_refund(db: Database, settings: Settings, refund_row: Refund, new: bool) -> Refund:
    """The provider call of a recorded refund, and its answer. A refusal gives back what was taken back; no
    answer leaves the refund pending for reconciliation and review, never retried blindly here."""
    if not new and refund_row.status != refunds.PENDING:
        return refund_row
    with db.transaction(write=False) as session:
        attempt = payments.get_attempt(session, refund_row.attempt_id)
    try:
        provider = provider_named(attempt.provider, db, settings)
    except ProviderDisabled:
        return refund_row  # stays pending: the provider that took the payment is off here
    result, refused = None, None
    assert attempt.provider_ref is not None  # a refunded payment is one a provider took
    try:
        result = provider.refund(attempt.provider_ref, amount_minor=refund_row.amount_minor,
                                 currency=refund_row.currency, idempotency_key=str(refund_row.id))
    except ProviderDeclined as exc:
        refused = exc.message
    except ProviderUnavailable:
        return refund_row
    with db.transaction() as session:
        return refunds.record_outcome(session, refund_row.id, result=result, refused=refused, now=clock.now())


# -- reconciliation --------------------------------------------------------------------------------------------

def check_stuck(db: Database, settings: Settings, attempt: PaymentAttempt) -> str:
    """Ask the provider about an attempt that heard nothing for a while; past its expiry, cancel it there (it is
    then closed as abandoned, or settled by what the provider says instead). Returns the outcome for the log."""
    try:
        provider = provider_named(attempt.provider, db, settings)
    except ProviderDisabled:
        # e.g. a sandbox attempt from a demo, now that the sandbox is off: nobody can answer for it.
        return "provider disabled"
    status = None
    try:
        if attempt.provider_ref is not None:
            status = _ask(provider, attempt, attempt.provider_ref)
        if reconcile.expired(attempt, now=clock.now()) and (status is None or status.status not in DEFINITE):
            # No ref: the provider's answer never came back, so the payer never got anything to pay with.
            status = (provider.cancel(attempt.provider_ref) if attempt.provider_ref is not None
                      else ProviderStatus("", "canceled"))
    except ProviderUnavailable:
        status = None  # no answer is not an answer: ask again later
    with db.transaction() as session:
        return reconcile.apply_status(session, attempt, status, now=clock.now())


def _ask(provider: PaymentProvider, attempt: PaymentAttempt, ref: str) -> ProviderStatus:
    # Providers that capture separately (PayPal) capture here: an approved order whose payer closed the tab gets
    # paid, and a capture that timed out is replayed safely under the same key.
    capture = getattr(provider, "capture", None)
    return capture(ref, f"capture:{attempt.id}") if capture else provider.fetch_status(ref)


def _provider(db: Database, settings: Settings, attempt: PaymentAttempt) -> PaymentProvider:
    try:
        return provider_named(attempt.provider, db, settings)
    except ProviderDisabled as exc:
        raise ProviderUnavailable(f"The {attempt.provider} provider is not enabled here.") from exc



# -- saved methods and off-session charges (auto-renew) ----------------------------------------------------------

def _saver(db: Database, settings: Settings, name: str) -> SavesMethods:
    provider = provider_named(name, db, settings)
    if not all(hasattr(provider, m) for m in ("start_saving", "finish_saving", "charge_saved")):
        raise ProviderDisabled(f"{name} cannot save payment methods")
    return cast(SavesMethods, provider)


def saving_provider(method: str, operator_id: str, settings: Settings) -> str | None:
    """The provider that saves `method` for this operator's lines, or None (it collects it but cannot save it)."""
    name = route(method, operator_id, settings)
    return name if name in SAVERS else None


def start_saving(db: Database, settings: Settings, *, provider: str, reference: str, return_url: str,
                 language: str) -> MethodSetup:
    return _saver(db, settings, provider).start_saving(reference=reference, return_url=return_url, language=language)


def finish_saving(db: Database, settings: Settings, *, provider: str, setup_ref: str,
                  test_card: str | None = None) -> SavedRef:
    return _saver(db, settings, provider).finish_saving(setup_ref, test_card=test_card)


def charge_saved(db: Database, settings: Settings, *, attempt: PaymentAttempt, customer_ref: str | None,
                 method_ref: str, description: str) -> ProviderStatus | None:
    """Charge a saved method for a recorded attempt, its id the idempotency key: asking again (after a crash, a
    timeout) gets the first charge's answer. None when the provider cannot say (unreachable, switched off): the
    attempt stays as it is and the next try asks again with the same key."""
    try:
        provider = _saver(db, settings, attempt.provider)
        return provider.charge_saved(OffSessionCharge(
            idempotency_key=str(attempt.id), customer_ref=customer_ref, method_ref=method_ref,
            amount_minor=attempt.amount_minor, currency=attempt.currency, description=description))
    except (ProviderUnavailable, ProviderDisabled):
        return None
    except ProviderDeclined as exc:
        return ProviderStatus(attempt.provider_ref or "", "failed", failure=str(exc.details.get("code") or exc.code))


def cancel_off_session(db: Database, settings: Settings, attempt: PaymentAttempt) -> str:
    """Close an off-session charge left waiting for its payer (the payer pays another way instead): "canceled"
    when no money moved, else what the provider says ("succeeded": it was paid after all; "pending"; "unknown")."""
    if attempt.provider_ref is None:
        return "canceled"
    try:
        status = provider_named(attempt.provider, db, settings).cancel(attempt.provider_ref)
    except (ProviderUnavailable, ProviderDisabled):
        return "unknown"
    if status.status in DEFINITE:
        with db.transaction() as session:
            payments.record_status(session, attempt, status, source="cancel", now=clock.now())
    elif status.status == "canceled":
        with db.transaction() as session:
            reconcile.apply_status(session, attempt, status, now=clock.now())
    return status.status
