from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simkeep.catalog.models import STACK_EXTEND, STACK_MAX, Operator
from simkeep.core.clock import add_days, end_of_local_day
from simkeep.core.errors import ValidityCapReached
from simkeep.line import rules


def operator(**overrides) -> Operator:
    values = dict(id="fr-test", country="FR", currency="EUR", timezone="Europe/Paris", initial_validity_days=30,
                  grace_days=90, suspended_days=30, quarantine_days=45, max_validity_days=730,
                  reminder_offsets=[30, 7, 3, 1, 0], validity_stacking=STACK_EXTEND, forfeit_balance_on="deactivated")
    return Operator(**{**values, **overrides})


def test_add_days_keeps_local_wall_clock_across_dst():
    before = datetime(2027, 3, 27, 23, 0, tzinfo=UTC)  # 28 March 00:00 Paris, winter time
    assert add_days(before, 1, "Europe/Paris") == datetime(2027, 3, 28, 22, 0, tzinfo=UTC)  # summer time


def test_end_of_local_day_rounds_up_to_paris_midnight():
    assert end_of_local_day(datetime(2027, 7, 1, 9, 30, tzinfo=UTC), "Europe/Paris") == datetime(2027, 7, 1, 22, 0, tzinfo=UTC)
    midnight = datetime(2027, 7, 1, 22, 0, tzinfo=UTC)
    assert end_of_local_day(midnight, "Europe/Paris") == midnight


def test_stages_follow_operator_days():
    end = datetime(2027, 1, 31, 23, 0, tzinfo=UTC)  # 1 Feb 00:00 Paris
    s = rules.stages(operator(), end)
    assert s.suspended_at == datetime(2027, 5, 1, 22, 0, tzinfo=UTC)  # 2 May 00:00, +90 days, summer time
    assert s.number_loss_at == datetime(2027, 5, 31, 22, 0, tzinfo=UTC)
    assert s.quarantine_at == datetime(2027, 6, 1, 22, 0, tzinfo=UTC)
    assert s.available_at == datetime(2027, 7, 15, 22, 0, tzinfo=UTC)
    assert [s.state_at(t) for t in (end.replace(hour=22), end, s.suspended_at, s.number_loss_at,
                                     s.quarantine_at, s.available_at)] == [
        "active", "grace", "suspended", "deactivated", "quarantine", "available"]


def test_reminders_go_out_at_ten_local_on_the_right_days():
    loss = datetime(2027, 5, 30, 22, 0, tzinfo=UTC)  # number lost at the start of 31 May (Paris)
    op = operator()
    assert rules.reminder_at(op, loss, 0) == datetime(2027, 5, 30, 8, 0, tzinfo=UTC)  # 30 May 10:00 CEST
    assert rules.reminder_at(op, loss, 30) == datetime(2027, 4, 30, 8, 0, tzinfo=UTC)


def test_due_reminder_sends_only_the_most_urgent_after_downtime():
    op = operator()
    loss = datetime(2027, 5, 30, 22, 0, tzinfo=UTC)
    late = datetime(2027, 5, 28, 12, 0, tzinfo=UTC)  # last day is 30 May: the 30, 7 and 3-day ones are due
    assert rules.due_reminder(op, loss, None, late) == 3
    assert rules.due_reminder(op, loss, 3, late) is None
    assert rules.next_reminder_at(op, loss, 3) == datetime(2027, 5, 29, 8, 0, tzinfo=UTC)


def test_extend_from_current_expiry_and_max_rule():
    now = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    end = datetime(2027, 3, 31, 22, 0, tzinfo=UTC)
    assert rules.extended_validity(operator(), end, 7, now) == datetime(2027, 4, 7, 22, 0, tzinfo=UTC)
    # Shinetown-style: a top-up never shortens, and does not stack.
    shine = operator(timezone="Asia/Hong_Kong", validity_stacking=STACK_MAX)
    long_end = datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
    assert rules.extended_validity(shine, long_end, 30, now) == long_end
    assert rules.extended_validity(shine, now, 30, now) == datetime(2027, 3, 31, 16, 0, tzinfo=UTC)


def test_cap_refuses_extension_past_max_validity():
    now = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(ValidityCapReached):
        rules.extended_validity(operator(), add_days(now, 700, "Europe/Paris"), 60, now)


@given(days=st.lists(st.integers(min_value=1, max_value=365), min_size=1, max_size=40),
       start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_stacking_never_passes_the_cap_and_always_lands_on_local_midnight(days, start):
    op = operator()
    end = rules.initial_validity_end(op, start)
    for d in days:
        try:
            new_end = rules.extended_validity(op, end, d, start)
        except ValidityCapReached:
            continue
        assert new_end > end
        assert new_end <= end_of_local_day(add_days(start, op.max_validity_days, op.timezone), op.timezone)
        assert end_of_local_day(new_end, op.timezone) == new_end
        end = new_end
