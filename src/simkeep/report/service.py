"""The back office's dashboard: one query per chart, each a GROUP BY in the database returning plain rows.

Days are business days: the chosen operator's time zone, or, for all operators, the zone they share (the reader's
when they do not share one). A day is a half-open range of UTC instants [local midnight, next local midnight), so a
DST day has 23 or 25 hours and an instant on an edge belongs to the day it starts. The days of the period are a
small derived table joined on those ranges: portable (SQLite has no time zones) and index-friendly on PostgreSQL.

What counts (the same rows the ledger and the lines table hold):
- renewals and sales: every stored top-up (a top-up is only stored completed; refunds and review decisions are
  their own ledger entries on their own days, so a top-up refunded later still counts on the day it was sold);
- promotion cost: what the top-up entries post to the promotion expense account (bonus credit and discounts);
- numbers at risk: lines in service (active, grace, suspended) whose number-loss instant is 0–7, 8–30 or 31–90
  whole days of 24 hours after now; a line past its number-loss instant that the sweep has not reached yet is not
  counted (it is being lost, not at risk);
- a reminder converts when the same line is renewed within CONVERSION_DAYS after the reminder was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    FromClause,
    Row,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from simkeep.catalog.models import Operator
from simkeep.core.clock import zone
from simkeep.core.errors import InvalidInput
from simkeep.db import UtcDateTime
from simkeep.ledger import service as ledger
from simkeep.ledger.models import Posting
from simkeep.line.models import AVAILABLE, DEACTIVATED, Line, LineEvent
from simkeep.notification.models import OutboxMessage
from simkeep.payment.models import (
    ABANDONED,
    CREATED,
    DISMISSED,
    FAILED,
    PENDING,
    REFUNDED,
    REVIEW,
    SUCCEEDED,
    PaymentAttempt,
)
from simkeep.topup.models import TopUp

MAX_DAYS = 366  # a year, leap or not: longer periods belong to the accounting exports
PRESETS = (7, 30, 90)
CONVERSION_DAYS = 7  # a renewal this long after a reminder is counted as the reminder's
AT_RISK = (("0-7", 0, 8), ("8-30", 8, 31), ("31-90", 31, 91))  # (bucket, from, before) in whole days left
REVIEW_AGES = (("under_1", 0, 1), ("1-3", 1, 3), ("3-7", 3, 7), ("over_7", 7, None))  # days in review
# The partial indexes' own predicates (migration 0027), written as literals so that PostgreSQL matches them even
# with a generic plan.
_LIVE: ColumnElement[bool] = literal_column("lines.state IN ('active', 'grace', 'suspended')", Boolean())
_REMINDER: ColumnElement[bool] = literal_column("outbox.topic = 'reminder'", Boolean())
_IN_REVIEW: ColumnElement[bool] = literal_column(f"payment_attempts.status = '{REVIEW}'", Boolean())


class InvalidPeriod(InvalidInput):
    code, message = "invalid_period", "The period is not valid."


class UnknownOperator(InvalidInput):
    code, message = "unknown_operator", "No such operator."


@dataclass(frozen=True, slots=True)
class Period:
    """Whole business days first_day..last_day (both included) in `timezone`, for one operator or all (None)."""

    operator_id: str | None
    first_day: date
    last_day: date
    timezone: str

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=k) for k in range((self.last_day - self.first_day).days + 1)]

    def starts(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone(self.timezone))

    @property
    def starts_at(self) -> datetime:
        return self.starts(self.first_day)

    @property
    def ends_at(self) -> datetime:
        return self.starts(self.last_day + timedelta(days=1))


def period(operators: list[Operator], *, operator_id: str | None, first_day: date | None, last_day: date | None,
           days: int | None, reader_zone: str, today: datetime) -> Period:
    """The period asked for: explicit days, or the last `days` days up to today; 30 days when neither is given."""
    chosen = [op for op in operators if operator_id is None or op.id == operator_id]
    if operator_id is not None and not chosen:
        raise UnknownOperator()
    zones = {op.timezone for op in chosen}
    tz = zones.pop() if len(zones) == 1 else reader_zone
    if first_day is None and last_day is None:
        if days is not None and days not in PRESETS:
            raise InvalidPeriod()
        last_day = today.astimezone(zone(tz)).date()
        first_day = last_day - timedelta(days=(days or 30) - 1)
    if first_day is None or last_day is None or first_day > last_day or (last_day - first_day).days >= MAX_DAYS:
        raise InvalidPeriod()
    return Period(operator_id, first_day, last_day, tz)


def operators(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.id)))


# --- the charts ------------------------------------------------------------------------------------------------

def renewals(session: Session, period: Period) -> list[Row[Any]]:
    """Top-ups per day by channel and payment method; a top-up not paid through a payment provider (a voucher, a
    store's till, a reseller's float) has its channel as its method."""
    days = _days(period)
    method = func.coalesce(PaymentAttempt.method, TopUp.channel)
    query = (select(days.c.day, TopUp.channel, method.label("method"), func.count().label("renewals"))
             .select_from(days).join(TopUp, _on_day(TopUp.created_at, days))
             .outerjoin(PaymentAttempt, PaymentAttempt.topup_id == TopUp.id)
             .where(*_within(TopUp.created_at, period))
             .group_by(days.c.day, TopUp.channel, method).order_by(days.c.day, TopUp.channel, method))
    return _rows(session, _for_operator(query, TopUp.line_id, period))


def revenue(session: Session, period: Period, currencies: list[str]) -> list[Row[Any]]:
    """Per day and currency: what the renewals sold (price paid) and what promotions cost with them (bonus credit
    and discounts: the top-up entries' postings to promotion expense, negated)."""
    days = _days(period)
    expense = [ledger.system_account_id(ledger.PROMOTION_EXPENSE, currency) for currency in currencies]
    sales = (select(days.c.day, TopUp.currency, func.count().label("renewals"),
                    _sum(TopUp.price_minor).label("sales_minor"), literal(0).label("promotion_minor"))
             .select_from(days).join(TopUp, _on_day(TopUp.created_at, days))
             .where(*_within(TopUp.created_at, period)).group_by(days.c.day, TopUp.currency))
    promotion = (select(days.c.day, TopUp.currency, literal(0), literal(0), -_sum(Posting.amount_minor))
                 .select_from(days).join(TopUp, _on_day(TopUp.created_at, days))
                 .join(Posting, and_(Posting.entry_id == TopUp.journal_entry_id, Posting.account_id.in_(expense)))
                 .where(*_within(TopUp.created_at, period)).group_by(days.c.day, TopUp.currency))
    both = union_all(_for_operator(sales, TopUp.line_id, period),
                     _for_operator(promotion, TopUp.line_id, period)).subquery("both")
    query = (select(both.c.day, both.c.currency, _sum(both.c.renewals).label("renewals"),
                    _sum(both.c.sales_minor).label("sales_minor"),
                    _sum(both.c.promotion_minor).label("promotion_minor"))
             .group_by(both.c.day, both.c.currency).order_by(both.c.day, both.c.currency))
    return _rows(session, query)


def at_risk(session: Session, *, operator_id: str | None, now: datetime) -> list[tuple[str, int]]:
    """Lines in service by whole days left before their number-loss instant, as of now: every bucket, zeros too."""
    bucket = case(*((Line.number_loss_at < now + timedelta(days=before), name) for name, _, before in AT_RISK))
    query = (select(bucket.label("bucket"), func.count().label("lines"))
             .where(_LIVE, Line.number_loss_at >= now, Line.number_loss_at < now + timedelta(days=AT_RISK[-1][2]))
             .group_by(bucket))
    if operator_id is not None:
        query = query.where(Line.operator_id == operator_id)
    counts = {row.bucket: row.lines for row in session.execute(query)}
    return [(name, counts.get(name, 0)) for name, _, _ in AT_RISK]


def losses(session: Session, period: Period) -> list[Row[Any]]:
    """Numbers lost (the line deactivated) and returned to the pool (available) per day."""
    days = _days(period)
    query = (select(days.c.day, LineEvent.to_state.label("state"), func.count().label("lines"))
             .select_from(days).join(LineEvent, _on_day(LineEvent.at, days))
             .where(LineEvent.to_state.in_((DEACTIVATED, AVAILABLE)), *_within(LineEvent.at, period))
             .group_by(days.c.day, LineEvent.to_state).order_by(days.c.day, LineEvent.to_state))
    return _rows(session, _for_operator(query, LineEvent.line_id, period))


def conversion(session: Session, period: Period) -> list[Row[Any]]:
    """Reminders written in the period (SMS only: the e-mail copy of a reminder is the same reminder) by offset
    (days before number loss) and language, and how many were followed by a renewal of their line in time."""
    offset = OutboxMessage.payload["days_before"].as_integer()
    renewed = exists().where(TopUp.line_id == OutboxMessage.line_id, TopUp.created_at > OutboxMessage.created_at,
                             TopUp.created_at <= _plus_days(OutboxMessage.created_at, CONVERSION_DAYS))
    query = (select(offset.label("days_before"), OutboxMessage.language, func.count().label("reminders"),
                    _sum(case((renewed, 1), else_=0)).label("renewed"))
             .where(_REMINDER, OutboxMessage.channel == "sms", *_within(OutboxMessage.created_at, period))
             .group_by(offset, OutboxMessage.language).order_by(offset.desc(), OutboxMessage.language))
    return _rows(session, _for_operator(query, OutboxMessage.line_id, period))


def payments(session: Session, period: Period) -> list[Row[Any]]:
    """Payment attempts made in the period by provider and outcome. `settled` excludes the attempts still waiting
    for the payer or the provider; the success rate is succeeded / settled."""
    status = PaymentAttempt.status

    def count(*states: str) -> ColumnElement[int]:
        return _sum(case((status.in_(states), 1), else_=0))

    query = (select(PaymentAttempt.provider, func.count().label("attempted"),
                    count(SUCCEEDED, FAILED, ABANDONED, REVIEW, DISMISSED, REFUNDED).label("settled"),
                    count(SUCCEEDED).label("succeeded"), count(FAILED).label("failed"),
                    count(ABANDONED).label("abandoned"), count(REVIEW, DISMISSED, REFUNDED).label("reviewed"),
                    count(CREATED, PENDING).label("open"))
             .where(*_within(PaymentAttempt.created_at, period))
             .group_by(PaymentAttempt.provider).order_by(PaymentAttempt.provider))
    return _rows(session, _for_operator(query, PaymentAttempt.line_id, period))


def review_age(session: Session, *, operator_id: str | None, now: datetime) -> list[tuple[str, int, datetime | None]]:
    """Open review items by how long they have waited (since they entered review), as of now, with the oldest
    of each bucket: every bucket, zeros too."""
    bucket = case(*((PaymentAttempt.updated_at > now - timedelta(days=before), name)
                    for name, _, before in REVIEW_AGES if before is not None), else_=REVIEW_AGES[-1][0])
    query = (select(bucket.label("bucket"), func.count().label("items"),
                    func.min(PaymentAttempt.updated_at).label("oldest"))
             .where(_IN_REVIEW).group_by(bucket))
    if operator_id is not None:
        query = query.join(Line, Line.id == PaymentAttempt.line_id).where(Line.operator_id == operator_id)
    found = {row.bucket: (row.items, row.oldest) for row in session.execute(query)}
    return [(name, *found.get(name, (0, None))) for name, _, _ in REVIEW_AGES]


# --- building blocks -------------------------------------------------------------------------------------------

def _days(period: Period) -> FromClause:
    """The period's days as a derived table (day, starts_at, ends_at): one literal row per day."""
    rows = [select(literal(day.isoformat(), String).label("day"),
                   literal(period.starts(day), UtcDateTime).label("starts_at"),
                   literal(period.starts(day + timedelta(days=1)), UtcDateTime).label("ends_at"))
            for day in period.days]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("days")


def _on_day(instant: Any, days: FromClause) -> ColumnElement[bool]:
    return and_(instant >= days.c.starts_at, instant < days.c.ends_at)


def _within(instant: Any, period: Period) -> tuple[ColumnElement[bool], ...]:
    """The whole period's range too: the planner then reads one index range, not one per day."""
    return instant >= period.starts_at, instant < period.ends_at


def _for_operator(query: Select, line_id: Any, period: Period) -> Select:
    if period.operator_id is None:
        return query
    return query.join(Line, Line.id == line_id).where(Line.operator_id == period.operator_id)


def _sum(value: Any) -> ColumnElement[int]:
    """A sum as an integer on both databases (PostgreSQL sums BIGINT into NUMERIC)."""
    return cast(func.sum(value), BigInteger)


def _rows(session: Session, query: Select) -> list[Row[Any]]:
    return list(session.execute(query).all())


class _plus_days(FunctionElement):
    """instant + n days, in each database's own date arithmetic (an instant is naive UTC text on SQLite)."""

    type = DateTime()
    inherit_cache = True

    def __init__(self, instant: Any, days: int) -> None:
        super().__init__(instant, literal_column(str(int(days))))


@compiles(_plus_days)
def _plus_days_default(element: _plus_days, compiler: Any, **kw: Any) -> str:
    instant, days = list(element.clauses)
    return f"({compiler.process(instant, **kw)} + interval '{days.name} days')"


@compiles(_plus_days, "sqlite")
def _plus_days_sqlite(element: _plus_days, compiler: Any, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds moved by SQLite, the microseconds kept as they were,
    # so the text still compares exactly with the column's.
    instant, days = list(element.clauses)
    column = compiler.process(instant, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '+{days.name} days') || substr({column}, 20))"
