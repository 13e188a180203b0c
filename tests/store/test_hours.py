"""Open now / opens at, in the store's zone: around midnight, closed days, and Paris's two DST changes of 2026
(spring-forward 2026-03-29 02:00 → 03:00, fall-back 2026-10-25 03:00 → 02:00)."""

from __future__ import annotations

from datetime import UTC, datetime

from simkeep.store.hours import state

PARIS = "Europe/Paris"
WEEK = {day: [["09:00", "19:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}  # closed on Sundays
LATE = {"fri": [["20:00", "03:00"]], "sat": [["20:00", "03:00"]], "mon": [["10:00", "24:00"]],
        "tue": [["00:00", "02:00"], ["10:00", "12:00"]]}


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def said(hours, at, closed_on=(), zone=PARIS):
    found = state(hours, list(closed_on), zone, at)
    return found.open, found.change_at, found.change_local.strftime("%a %Y-%m-%d %H:%M %Z") if found.change_at \
        else None


def test_open_now_closes_at_and_opens_at():
    assert said(WEEK, utc(2026, 11, 30, 10, 0)) == (True, utc(2026, 11, 30, 18, 0), "Mon 2026-11-30 19:00 CET")
    assert said(WEEK, utc(2026, 11, 30, 7, 59)) == (False, utc(2026, 11, 30, 8, 0), "Mon 2026-11-30 09:00 CET")


def test_the_closing_minute_is_closed_and_sunday_waits_for_monday():
    assert said(WEEK, utc(2026, 11, 28, 18, 0)) == (False, utc(2026, 11, 30, 8, 0), "Mon 2026-11-30 09:00 CET")
    found = state(WEEK, [], PARIS, utc(2026, 11, 29, 12, 0))
    assert (found.open, found.change_day(utc(2026, 11, 29, 12, 0))) == (False, 1)


def test_a_span_past_midnight_belongs_to_the_evening_it_started():
    # Saturday 01:30 in Paris: still Friday night's 20:00-03:00.
    assert said(LATE, utc(2026, 11, 28, 0, 30)) == (True, utc(2026, 11, 28, 2, 0), "Sat 2026-11-28 03:00 CET")
    # Saturday 03:00: closed until Saturday 20:00.
    assert said(LATE, utc(2026, 11, 28, 2, 0)) == (False, utc(2026, 11, 28, 19, 0), "Sat 2026-11-28 20:00 CET")
    # Sunday 02:59: Saturday night's span; Sunday has no hours, so Monday 10:00 comes next.
    assert said(LATE, utc(2026, 11, 29, 1, 59)) == (True, utc(2026, 11, 29, 2, 0), "Sun 2026-11-29 03:00 CET")
    assert said(LATE, utc(2026, 11, 29, 2, 0)) == (False, utc(2026, 11, 30, 9, 0), "Mon 2026-11-30 10:00 CET")


def test_monday_until_midnight_runs_on_into_tuesday_morning():
    assert said(LATE, utc(2026, 11, 30, 22, 30)) == (True, utc(2026, 12, 1, 1, 0), "Tue 2026-12-01 02:00 CET")
    assert said(LATE, utc(2026, 11, 30, 23, 0)) == (True, utc(2026, 12, 1, 1, 0), "Tue 2026-12-01 02:00 CET")


def test_a_closed_day_is_skipped_but_the_night_before_still_ends():
    assert said(WEEK, utc(2026, 12, 24, 20, 0), ["2026-12-25"]) == (
        False, utc(2026, 12, 26, 8, 0), "Sat 2026-12-26 09:00 CET")
    # Friday 2026-12-25 closed: Thursday night is not affected, Friday night's span does not start.
    assert said(LATE, utc(2026, 12, 25, 20, 0), ["2026-12-25"]) == (
        False, utc(2026, 12, 26, 19, 0), "Sat 2026-12-26 20:00 CET")


def test_spring_forward_the_night_is_an_hour_shorter():
    # Saturday 2026-03-28 20:00 CET is 19:00 UTC; Sunday 03:00 comes right after 01:59 CET, at 01:00 UTC.
    assert said(LATE, utc(2026, 3, 28, 18, 59)) == (False, utc(2026, 3, 28, 19, 0), "Sat 2026-03-28 20:00 CET")
    assert said(LATE, utc(2026, 3, 29, 0, 59)) == (True, utc(2026, 3, 29, 1, 0), "Sun 2026-03-29 03:00 CEST")
    assert said(LATE, utc(2026, 3, 29, 1, 0)) == (False, utc(2026, 3, 30, 8, 0), "Mon 2026-03-30 10:00 CEST")
    # Opening hours in the gap: 02:30 does not exist that night; it is read as 03:30 CEST.
    assert said({"sun": [["02:30", "04:00"]]}, utc(2026, 3, 29, 0, 0)) == (
        False, utc(2026, 3, 29, 1, 30), "Sun 2026-03-29 03:30 CEST")


def test_fall_back_the_night_is_an_hour_longer_and_02_30_happens_twice():
    assert said(LATE, utc(2026, 10, 24, 18, 0)) == (True, utc(2026, 10, 25, 2, 0), "Sun 2026-10-25 03:00 CET")
    assert said(LATE, utc(2026, 10, 25, 0, 30)) == (True, utc(2026, 10, 25, 2, 0), "Sun 2026-10-25 03:00 CET")
    assert said(LATE, utc(2026, 10, 25, 1, 30)) == (True, utc(2026, 10, 25, 2, 0), "Sun 2026-10-25 03:00 CET")
    assert said(LATE, utc(2026, 10, 25, 2, 0)) == (False, utc(2026, 10, 26, 9, 0), "Mon 2026-10-26 10:00 CET")
    # A weekday shop the Friday before: opens Saturday 09:00 CEST, i.e. 07:00 UTC; the Monday after, 08:00 UTC.
    assert said(WEEK, utc(2026, 10, 23, 17, 0)) == (False, utc(2026, 10, 24, 7, 0), "Sat 2026-10-24 09:00 CEST")
    assert said(WEEK, utc(2026, 10, 24, 17, 0)) == (False, utc(2026, 10, 26, 8, 0), "Mon 2026-10-26 09:00 CET")


def test_another_zone_and_no_hours_at_all():
    assert said(WEEK, utc(2026, 11, 30, 10, 0), zone="America/Cayenne") == (
        False, utc(2026, 11, 30, 12, 0), "Mon 2026-11-30 09:00 -03")
    assert said({}, utc(2026, 11, 30, 10, 0)) == (False, None, None)
