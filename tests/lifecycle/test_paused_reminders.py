"""Reminders paused by staff (line.service.pause_reminders): due ones wait, the most urgent goes out when the pause
ends, and the schedule goes on as before."""

from datetime import timedelta

from sqlalchemy import select

from simkeep.catalog import service as catalog
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import rules
from simkeep.line import service as lines
from simkeep.notification.models import OutboxMessage
from tests.conftest import T0
from tests.factories.lines import make_line, top_up

SYMA = "fr-syma"  # reminders 30, 7, 3, 1, 0 days before the number is lost
DAY = timedelta(days=1)


def reminders(db) -> list[int]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "reminder")
                               .order_by(OutboxMessage.created_at, OutboxMessage.id))
        return [m.payload["days_before"] for m in rows]


def reminder_at(db, line_id, offset: int):
    with db.transaction(write=False) as session:
        line = lines.get_line(session, line_id)
        return rules.reminder_at(catalog.get_operator(session, line.operator_id), line.number_loss_at, offset)


def next_sweep(db, line_id):
    with db.transaction(write=False) as session:
        return lines.get_line(session, line_id).next_sweep_at


def pause(db, line_id, until, now):
    with db.transaction() as session:
        lines.pause_reminders(session, line=lines.get_line(session, line_id), until=until, now=now)


def test_a_paused_line_gets_no_reminder_and_gets_the_due_one_when_the_pause_ends(db):
    line = make_line(db, operator_id=SYMA, now=T0)
    top_up(db, offer_id="fr-syma-5", now=T0)
    thirty, seven = reminder_at(db, line.id, 30), reminder_at(db, line.id, 7)
    until = thirty + 10 * DAY  # after the 30-day reminder, before the 7-day one
    pause(db, line.id, until, now=T0)
    run_sweep(db, now=thirty)
    run_sweep(db, now=thirty + DAY)
    assert reminders(db) == []
    assert next_sweep(db, line.id) == until  # not claimed again on every sweep meanwhile
    run_sweep(db, now=until - timedelta(seconds=1))
    assert reminders(db) == []
    run_sweep(db, now=until)
    assert reminders(db) == [30]
    run_sweep(db, now=until + DAY)
    assert reminders(db) == [30]
    for offset in (7, 3, 1, 0):
        run_sweep(db, now=reminder_at(db, line.id, offset))
    assert reminders(db) == [30, 7, 3, 1, 0]
    assert seven > until


def test_a_pause_that_outlasts_several_offsets_sends_only_the_most_urgent_one_after(db):
    line = make_line(db, operator_id=SYMA, now=T0)
    top_up(db, offer_id="fr-syma-5", now=T0)
    until = reminder_at(db, line.id, 3) + timedelta(hours=1)
    pause(db, line.id, until, now=T0)
    for offset in (30, 7, 3):
        run_sweep(db, now=reminder_at(db, line.id, offset))
    assert reminders(db) == []
    run_sweep(db, now=until)
    assert reminders(db) == [3]


def test_resumed_reminders_go_out_at_the_next_sweep(db):
    line = make_line(db, operator_id=SYMA, now=T0)
    top_up(db, offer_id="fr-syma-5", now=T0)
    thirty = reminder_at(db, line.id, 30)
    pause(db, line.id, thirty + 20 * DAY, now=T0)
    run_sweep(db, now=thirty)
    assert reminders(db) == []
    resumed_at = thirty + DAY
    with db.transaction() as session:
        current = lines.get_line(session, line.id)
        assert lines.reminders_paused(current, resumed_at)
        lines.resume_reminders(session, line=current, now=resumed_at)
    assert next_sweep(db, line.id) == resumed_at
    run_sweep(db, now=resumed_at)
    assert reminders(db) == [30]
    with db.transaction(write=False) as session:
        assert lines.get_line(session, line.id).reminders_paused_until is None
