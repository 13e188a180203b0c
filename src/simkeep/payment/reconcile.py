"""Reconciliation: settle attempts stuck at the provider from the provider's own answer, and the daily report
of what each provider collected against the ledger's clearing accounts. Nothing is ever refunded here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from simkeep.ledger import service as ledger
from simkeep.ledger.models import JournalEntry, Posting
from simkeep.payment import review
from simkeep.payment import service as payments
from simkeep.payment.models import CREATED, PENDING, REVIEW, SUCCEEDED, PaymentAttempt, Refund
from simkeep.payment.providers.base import ProviderStatus
from simkeep.payment.providers.sepa import service as bank

ASK_AFTER = timedelta(minutes=15)  # a webhook normally arrives within seconds; after this, ask the provider
GIVE_UP_AFTER = timedelta(hours=24)  # still unknown a day later: a person looks at it
TRANSFER_WAIT = timedelta(days=14)  # bank transfers are slow by nature


def stuck(session: Session, *, now: datetime) -> list[PaymentAttempt]:
    return list(session.scalars(select(PaymentAttempt).where(
        PaymentAttempt.status.in_((CREATED, PENDING)), PaymentAttempt.updated_at <= now - ASK_AFTER,
        PaymentAttempt.provider_ref.is_not(None)).order_by(PaymentAttempt.updated_at).limit(200)))


def apply_status(session: Session, attempt: PaymentAttempt, status: ProviderStatus | None, *, now: datetime) -> str:
    """What the provider said (None: it could not be asked). A definite answer goes through the inbox like a
    webhook, so it is applied once and by the same code; no answer for too long goes to review."""
    if status is not None and payments.record_status(session, attempt, status, source="poll", now=now):
        return f"settled from provider: {status.status}"
    limit = TRANSFER_WAIT if attempt.method == "bank_transfer" else GIVE_UP_AFTER
    if now - attempt.created_at >= limit:
        review.put_in_review(session, attempt.id, reason="no outcome from the provider", now=now)
        return "review: no outcome"
    return "still pending"


@dataclass
class ProviderDay:
    provider: str
    currency: str
    captured_minor: int = 0
    refunded_minor: int = 0
    pending_minor: int = 0
    review_minor: int = 0
    unmatched_minor: int = 0  # bank credits no order claimed (transfers only)
    ledger_minor: int = 0  # money in through the provider's clearing account that day (refunds out)

    @property
    def difference_minor(self) -> int:
        return self.ledger_minor - (self.captured_minor - self.refunded_minor)


@dataclass
class DailyReport:
    day: date
    rows: list[ProviderDay] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return all(row.difference_minor == 0 for row in self.rows)


def daily_report(session: Session, *, day: date) -> DailyReport:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    end = start + timedelta(days=1)
    rows: dict[tuple[str, str], ProviderDay] = {}

    def row(provider: str, currency: str) -> ProviderDay:
        return rows.setdefault((provider, currency), ProviderDay(provider, currency))

    credited = session.execute(
        select(PaymentAttempt.provider, PaymentAttempt.currency, func.sum(PaymentAttempt.amount_minor))
        .where(PaymentAttempt.status == SUCCEEDED, PaymentAttempt.updated_at >= start, PaymentAttempt.updated_at < end)
        .group_by(PaymentAttempt.provider, PaymentAttempt.currency))
    for provider, currency, total in credited:
        row(provider, currency).captured_minor = total
    refunded = session.execute(
        select(PaymentAttempt.provider, Refund.currency, func.sum(Refund.amount_minor))
        .join(PaymentAttempt, PaymentAttempt.id == Refund.attempt_id)
        .where(Refund.status.in_(("pending", "succeeded")), Refund.created_at >= start, Refund.created_at < end)
        .group_by(PaymentAttempt.provider, Refund.currency))
    for provider, currency, total in refunded:
        row(provider, currency).refunded_minor = total
    for status, attr in ((PENDING, "pending_minor"), (REVIEW, "review_minor")):
        open_ = session.execute(
            select(PaymentAttempt.provider, PaymentAttempt.currency, func.sum(PaymentAttempt.amount_minor))
            .where(PaymentAttempt.status == status, PaymentAttempt.created_at < end)
            .group_by(PaymentAttempt.provider, PaymentAttempt.currency))
        for provider, currency, total in open_:
            setattr(row(provider, currency), attr, total)
    for currency, (_count, total) in bank.unmatched_totals(session, booked_on=day).items():
        row("sepa", currency).unmatched_minor = total
    for (provider, currency), entry in list(rows.items()):
        account = ledger.clearing_account_id(currency, ledger.provider_clearing(provider))
        moved = session.scalars(
            select(func.coalesce(func.sum(Posting.amount_minor), 0)).join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(Posting.account_id == account, JournalEntry.created_at >= start, JournalEntry.created_at < end)).one()
        entry.ledger_minor = -moved  # money in shows as a negative clearing balance
    return DailyReport(day, sorted(rows.values(), key=lambda r: (r.provider, r.currency)))
