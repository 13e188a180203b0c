"""Reconciliation: settle attempts that heard nothing from the provider's own answer, close the checkouts nobody
completed, and the daily report of what each provider collected against the ledger's clearing accounts. Nothing is
ever refunded here.

An attempt silent for ASK_AFTER is asked about (payment.flow.check_stuck); past its expiry (EXPIRES_AFTER, or
TRANSFER_WAIT for a bank transfer) it is cancelled at the provider and closed as `abandoned`: no money moved, so
nobody needs to review it. Only an attempt whose money may have moved (the provider says "pending" or cannot be
asked) goes to review, once GIVE_UP_AFTER has passed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from simkeep.ledger import service as ledger
from simkeep.ledger.models import JournalEntry, Posting
from simkeep.payment import repository
from simkeep.payment import service as payments
from simkeep.payment.models import ABANDONED, OPEN, PENDING, REVIEW, SUCCEEDED, PaymentAttempt, Refund
from simkeep.payment.providers.base import ProviderStatus
from simkeep.payment.providers.sepa import service as bank
from simkeep.topup.models import TopUp

ASK_AFTER = timedelta(minutes=15)  # a webhook normally arrives within seconds; after this, ask the provider
EXPIRES_AFTER = timedelta(hours=1)  # a checkout not completed within this is abandoned: cancelled at the provider
TRANSFER_WAIT = timedelta(days=14)  # bank transfers are slow by nature: the reference stays open this long
GIVE_UP_AFTER = timedelta(hours=24)  # money may be moving and still no outcome a day later: a person looks at it


def stuck(session: Session, *, now: datetime) -> list[PaymentAttempt]:
    return list(session.scalars(select(PaymentAttempt).where(
        PaymentAttempt.status.in_(OPEN), PaymentAttempt.updated_at <= now - ASK_AFTER)
        .order_by(PaymentAttempt.updated_at).limit(200)))


def expired(attempt: PaymentAttempt, *, now: datetime) -> bool:
    """Past the time the payer had to complete it."""
    return now - attempt.created_at >= (TRANSFER_WAIT if attempt.method == bank.METHOD else EXPIRES_AFTER)


def apply_status(session: Session, attempt: PaymentAttempt, status: ProviderStatus | None, *, now: datetime) -> str:
    """What the provider said (None: it could not be asked), re-checked under the attempt's lock: a webhook may
    have settled it while the provider was being asked. Cancelled: closed as abandoned. A definite answer goes
    through the inbox like a webhook, so it is applied once and by the same code. No answer for too long: review."""
    current = repository.get_one(session, attempt.id, for_update=True)
    if current.status not in OPEN:
        return f"already {current.status}"
    if status is not None and status.status == "canceled":
        repository.change(session, attempt.id, status=ABANDONED, failure_reason=status.failure or "abandoned",
                          updated_at=now)
        payments.release_quote(session, current, now=now)
        return "abandoned"
    if status is not None and payments.record_status(session, attempt, status, source="poll", now=now):
        return f"settled from provider: {status.status}"
    if now - attempt.created_at >= (TRANSFER_WAIT if attempt.method == bank.METHOD else GIVE_UP_AFTER):
        return payments.hold_for_review(session, attempt.id, reason="no_outcome", now=now)
    return "still pending"


# The report's totals a person can open: the payments each one holds (payments_in).
CAPTURED, REFUNDED, RETURNED = "captured", "refunded", "returned"
TOTALS = (CAPTURED, REFUNDED, RETURNED, PENDING, REVIEW)


@dataclass
class ProviderDay:
    provider: str
    currency: str
    captured_minor: int = 0
    refunded_minor: int = 0
    returned_minor: int = 0  # refunded from review without ever being credited: no ledger movement
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


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _counted(total: str, day: date) -> Select:
    """(attempt, amount counted) for one total of one day: the report sums exactly these rows, and the drill-down
    lists them, so a total and its list always agree.

    captured: credited that day (dated by the top-up; a payment marked paid without one, by its last change);
    refunded / returned: refunds asked that day, of a credited payment / of one never credited; pending, review:
    still open at the end of the day."""
    start, end = _bounds(day)
    if total in (REFUNDED, RETURNED):
        credited = PaymentAttempt.topup_id.is_not(None) if total == REFUNDED else PaymentAttempt.topup_id.is_(None)
        return (select(PaymentAttempt, Refund.amount_minor.label("counted_minor")).join(Refund, Refund.attempt_id == PaymentAttempt.id)
                .where(credited, Refund.status.in_(("pending", "succeeded")), Refund.created_at >= start,
                       Refund.created_at < end))
    if total == CAPTURED:
        when = func.coalesce(TopUp.created_at, PaymentAttempt.updated_at)
        return (select(PaymentAttempt, PaymentAttempt.amount_minor.label("counted_minor"))
                .outerjoin(TopUp, TopUp.id == PaymentAttempt.topup_id)
                .where((PaymentAttempt.status == SUCCEEDED) | PaymentAttempt.topup_id.is_not(None),
                       when >= start, when < end))
    return select(PaymentAttempt, PaymentAttempt.amount_minor.label("counted_minor")).where(PaymentAttempt.status == total,
                                                                     PaymentAttempt.created_at < end)


def daily_report(session: Session, *, day: date) -> DailyReport:
    start, end = _bounds(day)
    rows: dict[tuple[str, str], ProviderDay] = {}

    def row(provider: str, currency: str) -> ProviderDay:
        return rows.setdefault((provider, currency), ProviderDay(provider, currency))

    for total in TOTALS:
        counted = _counted(total, day).subquery()
        sums = session.execute(select(counted.c.provider, counted.c.currency, func.sum(counted.c.counted_minor))
                               .group_by(counted.c.provider, counted.c.currency))
        for provider, currency, amount in sums:
            setattr(row(provider, currency), f"{total}_minor", int(amount))
    for currency, (_count, amount) in bank.unmatched_totals(session, booked_on=day).items():
        row(bank.PROVIDER, currency).unmatched_minor = amount
    for (provider, currency), entry in list(rows.items()):
        account = ledger.clearing_account_id(currency, ledger.provider_clearing(provider))
        moved = session.scalars(
            select(func.coalesce(func.sum(Posting.amount_minor), 0)).join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(Posting.account_id == account, JournalEntry.created_at >= start, JournalEntry.created_at < end)).one()
        entry.ledger_minor = -int(moved)  # money in shows as a negative clearing balance (PostgreSQL: a NUMERIC sum)
    return DailyReport(day, sorted(rows.values(), key=lambda r: (r.provider, r.currency)))


def payments_in(session: Session, *, day: date, total: str, provider: str,
                currency: str) -> list[tuple[PaymentAttempt, int]]:
    """The payments one total of the report holds, each with the amount it counts, oldest first."""
    if total not in TOTALS:
        raise ValueError(f"unknown total {total!r}")
    stmt = _counted(total, day).where(PaymentAttempt.provider == provider, PaymentAttempt.currency == currency)
    return [(attempt, amount) for attempt, amount in session.execute(stmt.order_by(PaymentAttempt.created_at))]
