"""Paying for a renewal: record the attempt, let the provider collect, credit only on a verified success.

The provider is called outside any transaction (the boundary does: start -> commit -> provider -> record).
Webhooks are stored once per (provider, event id) and handled by the worker; the top-up they trigger carries the
attempt's id as its idempotency key, so no number of deliveries credits twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time

from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.core.errors import LineNotRenewable, NotFound, PromotionUnavailable, ValidityCapReached
from simkeep.core.ids import new_id
from simkeep.core.metrics import PAYMENTS, count_on_commit
from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.line import service as lines
from simkeep.notification import outbox
from simkeep.payment import repository
from simkeep.payment.models import (
    ABANDONED,
    CREATED,
    FAILED,
    FINAL,
    OPEN,
    PENDING,
    REVIEW,
    SUCCEEDED,
    InboxEvent,
    PaymentAttempt,
    Refund,
)
from simkeep.payment.providers.base import (
    DISPUTED,
    REFUNDED,
    ProviderEvent,
    ProviderPayment,
    ProviderStatus,
)
from simkeep.payment.providers.base import FAILED as EVENT_FAILED
from simkeep.payment.providers.base import SUCCEEDED as EVENT_SUCCEEDED
from simkeep.payment.providers.sepa import epc
from simkeep.promotion import service as promotions
from simkeep.promotion.service import QuoteFor
from simkeep.receipt import service as receipts
from simkeep.topup import service as topups

TRANSFER_NOTICES_PER_DAY = 3  # bank transfer details a line receives a day (see _send_transfer_details)
# Failures that say the payer never completed the payment (the provider let it expire): closed as abandoned.
NEVER_COMPLETED = ("expired", "approval_expired", "abandoned")
CHANNEL = "portal"  # the channel online payments sell through: their quotes are the portal's


@dataclass(frozen=True)
class TransferDetails:
    """What a payer needs to make a pending bank transfer: the account, the exact amount, the ISO 11649 creditor
    reference, and the EPC QR code that fills it all in (an inline <svg> made here from those same fields)."""

    attempt_id: uuid.UUID
    amount_minor: int
    currency: str
    creditor: str
    iban: str
    bic: str
    reference: str
    qr_svg: str


class AttemptNotFound(NotFound):
    code, message = "payment_not_found", "No such payment."


class NotInReview(NotFound):
    code, message = "not_in_review", "This payment is not waiting for review."


def start_checkout(session: Session, *, checkout_key: str, line, operator, offer, method: str, provider: str,
                   language: str, now: datetime, quote_id=None) -> tuple[PaymentAttempt, bool]:
    """The attempt for this checkout; (attempt, False) when a double-click or reload already started it.

    It charges exactly a quote (`quote_id`: the one the payer was shown; without it the renewal is quoted now by
    the one pricing rule): the amount is the quote's price, and the quote is held in this same transaction, so its
    campaigns' budget is reserved for this payment until it is paid or given up (`release_quote`). Raises
    QuoteExpired, QuoteUsed, QuoteMismatch, QuoteNotFound or PromotionUnavailable (a campaign ran out since the
    quote: quote again and show the new price); nothing is recorded then."""
    earlier = repository.by_checkout_key(session, checkout_key)
    if earlier is not None:
        return earlier, False
    if quote_id is None:
        quote_id = topups.quote(session, msisdn=line.msisdn, offer_id=offer.id, channel=CHANNEL, now=now).id
    quote = promotions.hold(session, quote_id, now=now, target=QuoteFor(line.id, line.msisdn, operator.id, offer.id,
                                                                        CHANNEL, operator.currency))
    row = dict(id=new_id(), checkout_key=checkout_key, line_id=line.id, msisdn=line.msisdn, offer_id=offer.id,
               amount_minor=quote.price_minor, currency=quote.currency, method=method, provider=provider,
               provider_ref=None, next_action=None, status=CREATED, failure_reason=None, language=language,
               topup_id=None, receipt_id=None, created_at=now, updated_at=now, quote_id=quote.id, channel=None)
    repository.add(session, **row)
    return PaymentAttempt(**row), True


def start_off_session(session: Session, *, key: str, line, offer_id: str, amount_minor: int, currency: str,
                      method: str, provider: str, language: str, quote_id: uuid.UUID, channel: str,
                      now: datetime) -> PaymentAttempt:
    """The attempt for a charge of a saved method with nobody present (auto-renew), recorded before the provider
    is called: its id is the provider's idempotency key. Paying exactly `quote_id` (held by the caller), it is
    credited through `credit` on `channel` like every payment. `key` is unique: the same key finds the same
    attempt."""
    earlier = repository.by_checkout_key(session, key)
    if earlier is not None:
        return earlier
    row = dict(id=new_id(), checkout_key=key, line_id=line.id, msisdn=line.msisdn, offer_id=offer_id,
               amount_minor=amount_minor, currency=currency, method=method, provider=provider, provider_ref=None,
               next_action=None, status=CREATED, failure_reason=None, language=language, topup_id=None,
               receipt_id=None, created_at=now, updated_at=now, quote_id=quote_id, channel=channel)
    repository.add(session, **row)
    return PaymentAttempt(**row)


def record_off_session(session: Session, attempt_id: uuid.UUID, status: ProviderStatus, *, receipt_secret: str,
                       base_url: str, now: datetime) -> str:
    """The provider's answer to an off-session charge, applied at once (the webhook that follows finds it done):
    succeeded → credited through `credit` (keyed by the attempt: asked twice, credited once) or held for review;
    failed → failed; requires_action → pending, the payer must authenticate. Returns the attempt's new status."""
    attempt = repository.get(session, attempt_id, for_update=True)
    if attempt is None:
        raise AttemptNotFound()
    if attempt.provider_ref is None and status.ref:
        repository.change(session, attempt.id, provider_ref=status.ref, updated_at=now)
        attempt = repository.get(session, attempt_id)
        assert attempt is not None
    if attempt.status in FINAL or (attempt.status in (ABANDONED, FAILED) and status.status != "succeeded"):
        return attempt.status
    if status.status == "succeeded":
        outcome = _succeed(session, attempt, {"amount_minor": status.amount_minor, "currency": status.currency},
                           receipt_secret=receipt_secret, base_url=base_url, now=now)
        count_on_commit(session, PAYMENTS.labels(attempt.provider, _decision(outcome) or SUCCEEDED))
    elif status.status == "failed":
        repository.change(session, attempt.id, status=FAILED, failure_reason=status.failure or "failed",
                          updated_at=now)
        count_on_commit(session, PAYMENTS.labels(attempt.provider, FAILED))
    else:  # requires_action, pending: the payer (or the provider) has a step left
        repository.change(session, attempt.id, status=PENDING, next_action={"type": status.status},
                          updated_at=now)
    refreshed = repository.get(session, attempt_id)
    assert refreshed is not None
    return refreshed.status
def release_quote(session: Session, attempt: PaymentAttempt, *, now: datetime) -> None:
    """The payment failed, was abandoned or expired, or was closed without money: its quote's campaigns get their
    budget back. Paid after all later, the quote is still honoured at the price paid (`credit`)."""
    if attempt.quote_id is not None and attempt.topup_id is None:
        promotions.release(session, attempt.quote_id, now=now)


def record_created(session: Session, attempt_id: uuid.UUID, payment: ProviderPayment, *, now: datetime) -> None:
    repository.change(session, attempt_id, provider_ref=payment.ref, next_action=payment.next_action,
                      status=PENDING, updated_at=now)
    if (payment.next_action or {}).get("type") != "bank_transfer":
        return
    attempt = repository.get(session, attempt_id)
    if attempt is not None:
        _send_transfer_details(session, attempt, payment.next_action, now)


def _send_transfer_details(session: Session, attempt: PaymentAttempt, action: dict, now: datetime) -> None:
    """What to send, by SMS to the line (and by e-mail when its subscriber gave one), in the line's language, at
    once: the payer asked for it just now. Anyone may start a transfer for any number, so a line gets the details
    of its first TRANSFER_NOTICES_PER_DAY transfers of a (UTC) day only; the dedup key (line, day, rank among the
    day's transfers) is UNIQUE, so neither a repeat nor a race sends more, and the same attempt sends once."""
    line = lines.find_live_line(session, attempt.msisdn)
    day = attempt.created_at.astimezone(UTC).date()
    rank = repository.transfers_started(session, attempt.line_id, since=datetime.combine(day, time(), UTC),
                                        before=attempt.created_at)
    if line is None or rank >= TRANSFER_NOTICES_PER_DAY:
        return
    sms = outbox.Message(
        dedup_key=f"transfer.pending:{line.id}:{day.isoformat()}:{rank}", topic="transfer.pending",
        channel=outbox.SMS, recipient=attempt.msisdn, language=line.language, line_id=line.id,
        payload={"msisdn": attempt.msisdn, "attempt_id": str(attempt.id),
                 "amount": {"amount_minor": action["amount_minor"], "currency": action["currency"]},
                 **{k: action[k] for k in ("creditor", "iban", "bic", "reference")}})
    by_email = ([replace(sms, dedup_key=f"{sms.dedup_key}:email", channel=outbox.EMAIL, recipient=line.email)]
                if line.email else [])
    outbox.enqueue(session, [sms, *by_email], now=now)


def transfer_details(attempt: PaymentAttempt) -> TransferDetails | None:
    """The details of a bank transfer still awaited; None for any other attempt."""
    action = attempt.next_action or {}
    if attempt.status != PENDING or action.get("type") != "bank_transfer":
        return None
    text = epc.payload(bic=action["bic"], name=action["creditor"], iban=action["iban"],
                       amount_minor=action["amount_minor"], currency=action["currency"], reference=action["reference"])
    return TransferDetails(attempt.id, action["amount_minor"], action["currency"], action["creditor"],
                           action["iban"], action["bic"], action["reference"], epc.qr_inline(text))


def record_unavailable(session: Session, attempt_id: uuid.UUID, *, reason: str, now: datetime) -> None:
    repository.change(session, attempt_id, status=FAILED, failure_reason=reason, updated_at=now)
    attempt = repository.get(session, attempt_id)
    if attempt is not None:
        release_quote(session, attempt, now=now)
        count_on_commit(session, PAYMENTS.labels(attempt.provider, "unavailable"))


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
    """Apply one stored webhook. Success wins over failure (money was taken); nothing undoes a success. A success
    for an abandoned or dismissed attempt still credits (or goes to review): money that moved is never lost."""
    data = event.payload
    attempt = repository.by_provider_ref(session, event.provider, str(data.get("ref")))
    if attempt is None:
        outcome = "unknown payment"
    elif event.type in (DISPUTED, REFUNDED):
        outcome = _money_taken_back(session, attempt, event.type, data, now)
    elif attempt.status in FINAL:
        outcome = f"ignored: already {attempt.status}"
    elif event.type == EVENT_SUCCEEDED:
        outcome = _succeed(session, attempt, data, receipt_secret=receipt_secret, base_url=base_url, now=now)
    elif event.type == EVENT_FAILED and attempt.status in OPEN:
        failure = str(data.get("failure") or "failed")
        status = ABANDONED if failure in NEVER_COMPLETED else FAILED
        repository.change(session, attempt.id, status=status, failure_reason=failure, updated_at=now)
        release_quote(session, attempt, now=now)
        outcome = status
    elif event.type == EVENT_FAILED:
        outcome = f"ignored: already {attempt.status}"
    else:
        outcome = f"ignored: {event.type}"
    if attempt is not None and (decided := _decision(outcome)):
        count_on_commit(session, PAYMENTS.labels(attempt.provider, decided))
    repository.mark_processed(session, event.id, outcome=outcome, now=now)
    return outcome


def _decision(outcome: str) -> str | None:
    """The metric's outcome for an inbox outcome that decided a payment; None for one that changed nothing."""
    for prefix, decided in (("credited", SUCCEEDED), ("review", REVIEW), (FAILED, FAILED), (ABANDONED, ABANDONED)):
        if outcome.startswith(prefix):
            return decided
    return None


def _money_taken_back(session: Session, attempt: PaymentAttempt, kind: str, data: dict, now: datetime) -> str:
    """A dispute, or a refund made at the provider rather than through simkeep: a person decides what happens to
    the credit. Our own refunds come back as events too; those are already accounted for."""
    if kind == REFUNDED and (data.get("amount_minor") or 0) <= repository.refunded_minor(session, attempt.id):
        return "ignored: refund made through simkeep"
    if kind == DISPUTED:
        return hold_for_review(session, attempt.id, reason="disputed", detail=data.get("failure"), now=now)
    return hold_for_review(session, attempt.id, reason="refunded_at_provider", now=now,
                           detail=_amount(data.get("amount_minor"), data.get("currency")))


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
    if (data.get("amount_minor"), data.get("currency")) != _charged(session, attempt):
        return hold_for_review(session, attempt.id, reason="amount_differs", now=now,
                               detail=_amount(data.get("amount_minor"), data.get("currency")))
    try:
        with session.begin_nested():
            topup = credit(session, attempt, receipt_secret=receipt_secret, base_url=base_url, now=now)
    except (LineNotRenewable, ValidityCapReached, PromotionUnavailable) as exc:
        # Paid but cannot be credited: a person decides (refund or manual credit); never an automatic refund.
        # PromotionUnavailable: the payment was given up (its quote released), then paid after all, and the
        # campaign's budget ran out meanwhile; a person honours the quote as paid (review credit) or refunds it.
        return hold_for_review(session, attempt.id, reason=exc.code, now=now)
    return f"credited {topup.id}"


def _charged(session: Session, attempt: PaymentAttempt) -> tuple[int, str]:
    """What the payer was asked to pay: the quote's price (the attempt's amount is the same, set from it)."""
    if attempt.quote_id is None:  # an attempt started before quotes
        return attempt.amount_minor, attempt.currency
    quote = promotions.get_quote(session, attempt.quote_id)
    if (quote.price_minor, quote.currency) != (attempt.amount_minor, attempt.currency):
        return -1, quote.currency  # the attempt no longer matches its quote: never credited automatically
    return quote.price_minor, quote.currency


def credit(session: Session, attempt: PaymentAttempt, *, receipt_secret: str, base_url: str, now: datetime,
           honour_quote: bool = False):
    """The one way a payment reaches its line, for a webhook and for a person settling the review queue alike:
    the top-up (keyed by the attempt, so a repeat credits nothing more), its receipt and the confirmation SMS
    with the receipt's link. Raises LineNotRenewable when the line paid for is gone (its number may belong to
    someone else by now) and ValidityCapReached when it cannot take more validity.

    The top-up pays the attempt's quote (`quote_id`), so it records it and credits exactly what the payer was shown:
    a payment given up and paid after all is honoured at the price paid if its campaigns still have budget, else
    PromotionUnavailable (review). `honour_quote`: a person settling that review item honours the quote as paid,
    its cost in promotion expense, the campaign's budget untouched (promotion.service.use)."""
    live = lines.find_live_line(session, attempt.msisdn)
    if live is None or live.id != attempt.line_id:
        raise LineNotRenewable()
    receipt_id = attempt.receipt_id or new_id()
    receipt_url = f"{base_url}/receipts/{receipts.token_for(receipt_secret, receipt_id)}"
    result = topups.top_up(session, principal=f"payment:{attempt.provider}", idempotency_key=f"payment:{attempt.id}",
                           msisdn=attempt.msisdn, offer_id=attempt.offer_id, channel=attempt.channel or "portal",
                           now=now, notify={"receipt_url": receipt_url}, clearing=ledger.provider_clearing(attempt.provider),
                           quote_id=attempt.quote_id, honour_quote=honour_quote,
                           # An attempt from before quotes: credited at the amount it asked for.
                           price=None if attempt.quote_id else Money(attempt.amount_minor, attempt.currency))
    if attempt.receipt_id is None:
        receipts.issue(session, receipt_id=receipt_id, topup=result.topup,
                       operator_id=catalog.operator_of_offer(session, attempt.offer_id), line_id=result.topup.line_id,
                       payment_method=attempt.method, language=attempt.language, now=now)
    repository.change(session, attempt.id, status=SUCCEEDED, topup_id=result.topup.id, receipt_id=receipt_id,
                      failure_reason=None, updated_at=now)
    return result.topup


# Why a payment waits for a person. A review item's failure_reason is the code, then ": " and details for some
# (the amount received, the provider's dispute reason, the bank entry): the back office shows a sentence per code.
REVIEW_REASONS = ("amount_differs", "line_not_renewable", "validity_cap_reached", "disputed", "refunded_at_provider",
                  "no_outcome", "bank_transfer", "refund_refused", "promotion_unavailable")


def hold_for_review(session: Session, attempt_id: uuid.UUID, *, reason: str, detail: str | None = None,
                    now: datetime) -> str:
    """Put a payment in the review queue; returns the outcome for the inbox log."""
    if reason not in REVIEW_REASONS:
        raise ValueError(f"unknown review reason {reason!r}")
    stored = f"{reason}: {detail}" if detail else reason
    repository.change(session, attempt_id, status=REVIEW, failure_reason=stored[:200], updated_at=now)
    return f"review: {stored}"


def review_reason(attempt: PaymentAttempt) -> tuple[str, str | None]:
    """(code, details) of a review item; a reason stored before codes existed reads as ("other", its text)."""
    code, _, detail = (attempt.failure_reason or "").partition(": ")
    return (code, detail or None) if code in REVIEW_REASONS else ("other", attempt.failure_reason)


def notify_payer(session: Session, attempt: PaymentAttempt, *, topic: str, key: str, amount: dict,
                 now: datetime) -> bool:
    """An SMS to the number that paid, in the language of its payment page. Only while the number still belongs
    to the line paid for: a number given to someone else since must not hear of another person's payment."""
    line = lines.find_live_line(session, attempt.msisdn)
    if line is None or line.id != attempt.line_id:
        return False
    outbox.enqueue(session, [outbox.Message(
        dedup_key=f"{topic}:{key}", topic=topic, channel=outbox.SMS, recipient=attempt.msisdn,
        language=attempt.language, line_id=line.id, payload={"msisdn": attempt.msisdn, "amount": amount})], now=now)
    return True


def _amount(minor, currency) -> str | None:
    """"0.01 EUR": unambiguous in a note, in any language."""
    if not isinstance(minor, int) or not isinstance(currency, str):
        return None
    return f"{Money(minor, currency).as_decimal()} {currency}"


def recent_for_number(session: Session, msisdn: str, *, limit: int = 20) -> list[PaymentAttempt]:
    """Every recent payment for the number, whichever of its lines it was for."""
    return repository.recent_for_number(session, msisdn, limit)


def recent_for_line(session: Session, line_id) -> list[PaymentAttempt]:
    return repository.recent_for_line(session, line_id)


# -- the back office's line timeline and search -----------------------------------------------------------------------

def for_line(session: Session, line_id, *, upto: datetime | None = None, limit: int = 50) -> list[PaymentAttempt]:
    """The line's payment attempts created at or before `upto`, newest first."""
    return repository.for_line_upto(session, line_id, upto=upto, limit=limit)


def refunds_for_line(session: Session, line_id, *, upto: datetime | None = None, limit: int = 50) -> list[Refund]:
    """Refunds of the line's payments created at or before `upto`, newest first."""
    return repository.refunds_for_line_upto(session, line_id, upto=upto, limit=limit)


def attempt_ids_for_line(session: Session, line_id) -> list[uuid.UUID]:
    return repository.ids_for_line(session, line_id)


def by_reference(session: Session, reference: str, *, limit: int = 50) -> list[PaymentAttempt]:
    """Attempts a customer's quoted reference names: the provider's id as stored, or a bank transfer's creditor
    reference as printed (RF.. in groups of four, any case)."""
    quoted = reference.strip()
    compact = "".join(quoted.split())
    candidates = list(dict.fromkeys(r for r in (quoted, compact, compact.upper()) if r))
    return repository.by_reference(session, candidates, limit=limit) if candidates else []
