from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from simkeep.core.clock import add_days
from simkeep.ledger import service as ledger
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line.models import LineEvent
from simkeep.notification.models import OutboxMessage
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.factories.snapshot import snapshot

SYMA = "fr-syma"  # grace 90, suspended 30, quarantine 45 days; reminders 30, 7, 3, 1, 0 days before loss


def messages(db, topic=None):
    with db.transaction(write=False) as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.dedup_key)
        if topic:
            stmt = stmt.where(OutboxMessage.topic == topic)
        return list(session.scalars(stmt))


def transitions(db):
    with db.transaction(write=False) as session:
        rows = session.scalars(select(LineEvent).order_by(LineEvent.at, LineEvent.id))
        return [(e.from_state, e.to_state) for e in rows]


def daily(start: datetime, end: datetime):
    """Every day at 09:00 and 21:00 UTC from start to end."""
    day = start
    while day <= end:
        yield day
        yield day + timedelta(hours=12)
        day += timedelta(days=1)


def test_a_line_walks_every_state_with_one_reminder_per_offset_even_when_sweeps_repeat(db):
    make_line(db, operator_id=SYMA, now=T0)
    top_up(db, offer_id="fr-syma-5", now=T0)
    for at in daily(T0, view(db).line.available_at + timedelta(days=2)):
        run_sweep(db, now=at)
        run_sweep(db, now=at)  # a repeated sweep changes nothing
    reminders = messages(db, "reminder")
    assert [m.payload["days_before"] for m in reminders] == [30, 7, 3, 1, 0]
    assert len({m.id for m in reminders}) == 5
    assert transitions(db) == [(None, "active"), ("active", "grace"), ("grace", "suspended"),
                               ("suspended", "deactivated"), ("deactivated", "quarantine"),
                               ("quarantine", "available")]
    assert [m.topic for m in messages(db) if m.channel == "sms" and m.topic.startswith("line.")] == [
        "line.grace", "line.suspended", "line.deactivated"]
    assert len(messages(db, "line.state_changed")) == 5
    final = view(db, "+33612345678")
    assert final.line.state == "available"
    assert final.balance.minor == 0  # forfeited at deactivation, through the ledger
    with db.transaction(write=False) as session:
        assert ledger.account_balance(session, ledger.system_account_id(ledger.BREAKAGE, "EUR")) == 500
        assert ledger.verify(session).ok


def test_each_state_begins_exactly_at_its_instant(db):
    line = make_line(db, operator_id=SYMA, now=T0)
    stages = [("grace", line.validity_ends_at), ("suspended", add_days(line.validity_ends_at, 90, "Europe/Paris")),
              ("deactivated", line.number_loss_at), ("quarantine", add_days(line.number_loss_at, 1, "Europe/Paris")),
              ("available", line.available_at)]
    previous = "active"
    for state, starts in stages:
        run_sweep(db, now=starts - timedelta(microseconds=1))
        assert view(db).line.state == previous
        run_sweep(db, now=starts)
        assert view(db).line.state == state
        previous = state


def test_topup_when_suspended_restores_the_line_and_restarts_reminders(db):
    line = make_line(db, operator_id=SYMA, now=T0)
    assert line.validity_ends_at == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)
    suspended = datetime(2027, 7, 9, 22, 0, tzinfo=UTC)  # 100 days later: suspended, 20 days before loss
    run_sweep(db, now=suspended)
    assert view(db).line.state == "suspended"
    assert [m.payload["days_before"] for m in messages(db, "reminder")] == [30]
    result = top_up(db, offer_id="fr-syma-5", now=suspended)
    after = view(db).line
    assert after.state == "active" and after.reminded_offset is None
    assert result.topup.validity_ends_at == datetime(2027, 8, 8, 22, 0, tzinfo=UTC)  # 30 days from today
    assert transitions(db)[-1] == ("suspended", "active")
    # The new period gets its own 30-day reminder.
    run_sweep(db, now=after.number_loss_at - timedelta(days=29))
    assert [m.payload["days_before"] for m in messages(db, "reminder")] == [30, 30]


def test_a_repeated_sweep_moves_nothing(db):
    make_line(db, operator_id=SYMA, now=T0)
    at = T0 + timedelta(days=200)
    run_sweep(db, now=at)
    before = snapshot(db)
    result = run_sweep(db, now=at)
    assert result.lines == 0
    assert snapshot(db) == before


def test_concurrent_sweeps_never_double_act(db):
    numbers = [f"+336{n:08d}" for n in range(10_000_000, 10_000_000 + 120)]
    for msisdn in numbers:
        make_line(db, msisdn=msisdn, operator_id=SYMA, now=T0)
    at = T0 + timedelta(days=123)  # every line suspended, 28 days before loss: the 30-day reminder is due
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run_sweep(db, now=at, batch=7), range(4)))
    assert sum(r.lines for r in results) == 120
    assert len(messages(db, "reminder")) == 120
    assert len(messages(db, "line.suspended")) == 120
    assert len(messages(db, "line.state_changed")) == 240
    assert sum(1 for t in transitions(db) if t == ("grace", "suspended")) == 120
