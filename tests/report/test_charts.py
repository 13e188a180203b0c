"""Each dashboard chart against hand-computed fixtures: top-ups made through the top-up service on known local days
(the edges of Paris days, across the switch to summer time on 28 March 2027), reminders, state changes, payment
attempts and review items written as the services write them, and lines at known times before their number loss.
The period is 27–29 March 2027 in Europe/Paris; the dashboard's totals are checked against the ledger and the lines
table too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from simkeep.core.ids import new_id
from simkeep.db import Database
from simkeep.ledger import service as ledger
from simkeep.ledger.models import Account, JournalEntry, Posting
from simkeep.line.models import Line, LineEvent
from simkeep.notification import outbox
from simkeep.promotion.models import PERCENT_OFF
from simkeep.report import service as report
from tests.factories.dashboard import attempt
from tests.factories.lines import make_line, top_up
from tests.factories.promotions import make_promotion

ORANGE, SFR = "fr-orange-mobicarte", "fr-sfr-la-carte"
A, B, C = "+33612345678", "+33612345679", "+33611111111"  # A and B on Orange (fr, en), C on SFR
CREATED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2027, 3, 30, 8, 0, tzinfo=UTC)
FIRST, LAST = date(2027, 3, 27), date(2027, 3, 29)
D27, D28, D29 = "2027-03-27", "2027-03-28", "2027-03-29"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def period(db: Database, operator_id: str | None = ORANGE, *, first: date = FIRST, last: date = LAST,
           reader_zone: str = "Europe/Paris") -> report.Period:
    with db.transaction(write=False) as session:
        return report.period(report.operators(session), operator_id=operator_id, first_day=first, last_day=last,
                             days=None, reader_zone=reader_zone, today=NOW)


@pytest.fixture
def three_lines(db):
    lines = {number: make_line(db, msisdn=number, operator_id=op, language=lang, now=CREATED)
             for number, op, lang in ((A, ORANGE, "fr"), (B, ORANGE, "en"), (C, SFR, "fr"))}
    return {number: line.id for number, line in lines.items()}


@pytest.fixture
def sales(db, three_lines):
    """Orange: 03-26 23:59 CET (outside), 03-27 00:00 CET (the first instant in), 03-28 23:59:59 CEST (the summer
    time day of 23 hours), 03-29 00:00 CEST with 20% off for English speakers, 03-30 00:00 CEST (outside);
    SFR: one on 28 March, paid by WeChat Pay through Stripe."""
    make_promotion(db, now=utc(2027, 3, 28, 20), name="Spring -20%", benefit=PERCENT_OFF, benefit_value=20,
                   operator_id=ORANGE, languages=["en"], starts_at=utc(2027, 3, 28, 20), ends_at=utc(2027, 3, 30))
    top_up(db, msisdn=A, channel="api", now=utc(2027, 3, 26, 22, 59))
    top_up(db, msisdn=A, channel="api", now=utc(2027, 3, 26, 23, 0))
    top_up(db, msisdn=A, channel="voucher", now=utc(2027, 3, 28, 21, 59, 59))
    top_up(db, msisdn=B, channel="agent", now=utc(2027, 3, 28, 22, 0))
    top_up(db, msisdn=A, channel="api", now=utc(2027, 3, 29, 22, 0))
    paid_online = top_up(db, msisdn=C, offer_id="fr-sfr-la-carte-10", channel="portal", now=utc(2027, 3, 28, 10))
    attempt(db, three_lines[C], "succeeded", utc(2027, 3, 28, 9, 58), method="wechat_pay",
            topup_id=paid_online.topup.id)
    return three_lines


def test_renewals_per_paris_day_by_channel_and_method(db, sales):
    with db.transaction(write=False) as session:
        orange = [tuple(row) for row in report.renewals(session, period(db))]
        everyone = [tuple(row) for row in report.renewals(session, period(db, None))]
        in_utc = [tuple(row) for row in report.renewals(session, period(db, None, reader_zone="UTC"))]
    assert orange == [(D27, "api", "api", 1), (D28, "voucher", "voucher", 1), (D29, "agent", "agent", 1)]
    # All operators: Orange's and SFR's zones differ from the other operators', so the reader's zone decides.
    assert everyone == [(D27, "api", "api", 1), (D28, "portal", "wechat_pay", 1), (D28, "voucher", "voucher", 1),
                        (D29, "agent", "agent", 1)]
    # In UTC the 03-28 23:59:59 CEST sale is on the 28th, 00:00 CEST on the 29th is the 28th, and the one at
    # 03-29 22:00 UTC (00:00 CEST on the 30th) is the 29th.
    assert in_utc == [(D28, "agent", "agent", 1), (D28, "portal", "wechat_pay", 1), (D28, "voucher", "voucher", 1),
                      (D29, "api", "api", 1)]


def test_revenue_is_the_price_paid_and_promotion_cost_matches_the_ledger(db, sales):
    chosen = period(db)
    with db.transaction(write=False) as session:
        rows = [tuple(row) for row in report.revenue(session, chosen, ["EUR"])]
        everyone = [tuple(row) for row in report.revenue(session, period(db, None), ["EUR", "GBP"])]
        money_in, promotion = _ledger_topups(session, chosen.starts_at, chosen.ends_at)
    # 10 € each; B's 20% off: 8 € paid, 2 € of promotion cost.
    assert rows == [(D27, "EUR", 1, 1000, 0), (D28, "EUR", 1, 1000, 0), (D29, "EUR", 1, 800, 200)]
    assert everyone == [(D27, "EUR", 1, 1000, 0), (D28, "EUR", 2, 2000, 0), (D29, "EUR", 1, 800, 200)]
    assert (sum(r[3] for r in everyone), sum(r[4] for r in everyone)) == (money_in, promotion) == (3800, 200)


def _ledger_topups(session, starts_at: datetime, ends_at: datetime) -> tuple[int, int]:
    """Straight from the ledger: money in (the top-up entries' legs to clearing accounts, negated) and promotion
    cost (their legs to promotion expense, negated) over the period."""
    def total(kind: str) -> int:
        return -session.scalar(
            select(func.coalesce(func.sum(Posting.amount_minor), 0))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id).join(Account, Account.id == Posting.account_id)
            .where(JournalEntry.kind == "topup", Account.kind == kind, JournalEntry.created_at >= starts_at,
                   JournalEntry.created_at < ends_at))
    return total(ledger.CLEARING), total(ledger.PROMOTION_EXPENSE)


def test_numbers_at_risk_by_whole_days_left_as_of_now(db):
    cases = {  # number: (operator, state, number-loss instant)
        "+33600000001": (ORANGE, "active", NOW),  # 0 days left: at risk now
        "+33600000002": (ORANGE, "grace", NOW + timedelta(days=8) - timedelta(microseconds=1)),
        "+33600000003": (ORANGE, "suspended", NOW + timedelta(days=8)),
        "+33600000004": (ORANGE, "active", NOW + timedelta(days=31) - timedelta(seconds=1)),
        "+33600000005": (ORANGE, "active", NOW + timedelta(days=31)),
        "+33600000006": (ORANGE, "active", NOW + timedelta(days=91) - timedelta(seconds=1)),
        "+33600000007": (ORANGE, "active", NOW + timedelta(days=91)),  # beyond 90 days
        "+33600000008": (ORANGE, "active", NOW - timedelta(seconds=1)),  # past: being lost, not at risk
        "+33600000009": (ORANGE, "deactivated", NOW + timedelta(days=1)),  # not in service
        "+33600000010": (SFR, "active", NOW + timedelta(days=1)),
    }
    for number, (op, state, loss) in cases.items():
        line = make_line(db, msisdn=number, operator_id=op, now=CREATED)
        with db.transaction() as session:
            session.execute(update(Line).where(Line.id == line.id).values(state=state, number_loss_at=loss))
    with db.transaction(write=False) as session:
        orange = report.at_risk(session, operator_id=ORANGE, now=NOW)
        everyone = report.at_risk(session, operator_id=None, now=NOW)
        table = session.scalar(select(func.count()).select_from(Line).where(
            Line.state.in_(("active", "grace", "suspended")), Line.number_loss_at >= NOW,
            Line.number_loss_at < NOW + timedelta(days=91)))
    assert orange == [("0-7", 2), ("8-30", 2), ("31-90", 2)]
    assert everyone == [("0-7", 3), ("8-30", 2), ("31-90", 2)]
    assert sum(n for _, n in everyone) == table == 7


def test_numbers_lost_and_returned_to_the_pool_per_day(db, three_lines):
    events = [(A, "suspended", "deactivated", utc(2027, 3, 26, 22, 59, 59)),  # 03-26 23:59:59 CET: outside
              (A, "suspended", "deactivated", utc(2027, 3, 26, 23)),  # 03-27 00:00 CET
              (B, "suspended", "deactivated", utc(2027, 3, 28, 21, 59)),  # 03-28 23:59 CEST
              (B, "deactivated", "quarantine", utc(2027, 3, 28, 22)),  # not counted
              (B, "quarantine", "available", utc(2027, 3, 29, 12)),
              (A, "quarantine", "available", utc(2027, 3, 29, 21, 59, 59)),  # 03-29 23:59:59 CEST
              (C, "suspended", "deactivated", utc(2027, 3, 28, 12))]  # SFR
    with db.transaction() as session:
        session.add_all(LineEvent(id=new_id(), line_id=three_lines[number], from_state=old, to_state=new,
                                  reason="sweep", at=at) for number, old, new, at in events)
    with db.transaction(write=False) as session:
        orange = [tuple(row) for row in report.losses(session, period(db))]
        everyone = [tuple(row) for row in report.losses(session, period(db, None))]
    assert orange == [(D27, "deactivated", 1), (D28, "deactivated", 1), (D29, "available", 2)]
    assert everyone == [(D27, "deactivated", 1), (D28, "deactivated", 2), (D29, "available", 2)]


def test_reminder_conversion_by_offset_and_language_within_seven_days(db, three_lines):
    def remind(number: str, days_before: int, at: datetime, *, channel: str = outbox.SMS, lang: str = "fr") -> None:
        with db.transaction() as session:
            outbox.enqueue(session, [outbox.Message(
                dedup_key=f"reminder:{number}:{days_before}:{at.isoformat()}:{channel}", topic="reminder",
                channel=channel, recipient=number, language=lang, line_id=three_lines[number],
                payload={"days_before": days_before})], now=at)

    remind(A, 7, utc(2027, 3, 20, 22))  # renewed 7 days later to the second (03-27 22:00): converted
    remind(A, 7, utc(2027, 3, 20, 22), channel=outbox.EMAIL)  # the e-mail copy: not a second reminder
    remind(B, 7, utc(2027, 3, 21, 10), lang="en")  # renewed 03-28 10:00:01: 7 days and a second, too late
    remind(B, 3, utc(2027, 3, 25, 10), lang="en")  # renewed 03-28 10:00:01: converted
    remind(A, 3, utc(2027, 3, 27, 22))  # A renewed at the same instant, not after it: not converted
    remind(A, 30, utc(2027, 3, 19, 22, 59))  # 03-19 23:59 CET: before the period
    remind(C, 7, utc(2027, 3, 22, 10))  # SFR, converted
    top_up(db, msisdn=A, now=utc(2027, 3, 27, 22))
    top_up(db, msisdn=B, now=utc(2027, 3, 28, 10, 0, 1))
    top_up(db, msisdn=C, offer_id="fr-sfr-la-carte-10", now=utc(2027, 3, 23, 10))
    with db.transaction(write=False) as session:
        orange = [tuple(row) for row in report.conversion(session, period(db, first=date(2027, 3, 20)))]
        everyone = [tuple(row) for row in report.conversion(session, period(db, None, first=date(2027, 3, 20)))]
    assert orange == [(7, "en", 1, 0), (7, "fr", 1, 1), (3, "en", 1, 1), (3, "fr", 1, 0)]
    assert everyone == [(7, "en", 1, 0), (7, "fr", 2, 2), (3, "en", 1, 1), (3, "fr", 1, 0)]


def test_payment_success_per_provider(db, three_lines):
    a, c = three_lines[A], three_lines[C]
    day = utc(2027, 3, 28, 10)
    for status in ("succeeded", "succeeded", "failed", "pending", "review"):
        attempt(db, a, status, day)
    for status in ("abandoned", "succeeded", "refunded"):
        attempt(db, a, status, day, provider="paypal", method="paypal")
    attempt(db, a, "failed", utc(2027, 3, 26, 22, 59))  # 03-26 23:59 CET: outside
    attempt(db, c, "failed", day)  # SFR
    with db.transaction(write=False) as session:
        orange = [tuple(row) for row in report.payments(session, period(db))]
        everyone = [tuple(row) for row in report.payments(session, period(db, None))]
    # provider, attempted, settled, succeeded, failed, abandoned, reviewed, open
    assert orange == [("paypal", 3, 3, 1, 0, 1, 1, 0), ("stripe", 5, 4, 2, 1, 0, 1, 1)]
    assert everyone == [("paypal", 3, 3, 1, 0, 1, 1, 0), ("stripe", 6, 5, 2, 2, 0, 1, 1)]


def test_review_queue_age_as_of_now(db, three_lines):
    a, c = three_lines[A], three_lines[C]
    waited = {timedelta(hours=1): a, timedelta(days=1): a, timedelta(days=3) - timedelta(seconds=1): a,
              timedelta(days=3): a, timedelta(days=6): a, timedelta(days=10): a, timedelta(days=12): c}
    for age, line_id in waited.items():
        attempt(db, line_id, "review", NOW - age - timedelta(hours=2), updated_at=NOW - age)
    attempt(db, a, "dismissed", NOW - timedelta(days=20))  # settled: not in the queue
    with db.transaction(write=False) as session:
        orange = report.review_age(session, operator_id=ORANGE, now=NOW)
        everyone = report.review_age(session, operator_id=None, now=NOW)
    assert orange == [("under_1", 1, NOW - timedelta(hours=1)), ("1-3", 2, NOW - timedelta(days=3) + timedelta(seconds=1)),
                      ("3-7", 2, NOW - timedelta(days=6)), ("over_7", 1, NOW - timedelta(days=10))]
    assert everyone[-1] == ("over_7", 2, NOW - timedelta(days=12))


@pytest.mark.parametrize(("first", "last", "days"), [
    (date(2027, 3, 29), date(2027, 3, 27), None),  # backwards
    (date(2026, 3, 28), date(2027, 3, 29), None),  # 367 days: more than a leap year
    (date(2027, 3, 29), None, None),  # half a period
    (None, None, 14),  # not a preset
])
def test_periods_that_are_refused(db, first, last, days):
    with db.transaction(write=False) as session, pytest.raises(report.InvalidPeriod):
        report.period(report.operators(session), operator_id=ORANGE, first_day=first, last_day=last, days=days,
                      reader_zone="UTC", today=NOW)


def test_presets_end_today_in_the_operators_zone(db):
    with db.transaction(write=False) as session:
        operators = report.operators(session)
        late = report.period(operators, operator_id=ORANGE, first_day=None, last_day=None, days=7, reader_zone="UTC",
                             today=utc(2027, 3, 29, 22, 30))  # 00:30 on the 30th in Paris
        with pytest.raises(report.UnknownOperator):
            report.period(operators, operator_id="nope", first_day=None, last_day=None, days=7, reader_zone="UTC",
                          today=NOW)
    assert (late.first_day, late.last_day, late.timezone) == (date(2027, 3, 24), date(2027, 3, 30), "Europe/Paris")
    assert (late.starts_at, late.ends_at) == (utc(2027, 3, 23, 23), utc(2027, 3, 30, 22))
