"""Is a store open at a given instant, and when does that change? In the store's own time zone.

A store's `hours` map a weekday to local spans [["09:00", "12:30"], ["14:00", "19:00"]]; a span whose end is before
its start runs past midnight into the next day (["22:00", "02:00"]), "24:00" ends at midnight. `closed_on` lists
local dates on which no span starts (a span that began the evening before still runs to its end).

Each span becomes an interval of UTC instants, local times read in the store's zone: across a spring-forward a
local time that does not exist (02:30 on 2026-03-29 in Paris) is read with the offset before the change, so it
lands an hour later on the wall clock (03:30); across a fall-back a repeated local time is its first occurrence.
A span is as long as the wall clock says, so the night of a fall-back a 22:00-02:00 span lasts five hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from simkeep.store.models import WEEKDAYS

HORIZON_DAYS = 15  # how far ahead "opens at" looks: a store closed longer is just "closed"


@dataclass(frozen=True)
class OpenState:
    open: bool
    change_at: datetime | None  # UTC: when it closes (open) or opens (closed); None: not within HORIZON_DAYS
    zone: ZoneInfo

    @property
    def change_local(self) -> datetime | None:
        return self.change_at.astimezone(self.zone) if self.change_at else None

    def change_day(self, at: datetime) -> int | None:
        """Days from `at`'s local date to the change's local date (0 today, 1 tomorrow), in the store's zone."""
        if self.change_at is None:
            return None
        return (self.change_at.astimezone(self.zone).date() - at.astimezone(self.zone).date()).days


def _instant(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    if hhmm == "24:00":
        day, hhmm = day + timedelta(days=1), "00:00"
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=zone).astimezone(UTC)


def intervals(hours: dict, closed_on: list, zone: ZoneInfo, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """The opening intervals (UTC, merged when they touch) of the spans that start on local dates first … last."""
    closed = set(closed_on)
    found: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        if day.isoformat() not in closed:
            for start, end in hours.get(WEEKDAYS[day.weekday()], []):
                opens = _instant(day, start, zone)
                closes = _instant(day + timedelta(days=1) if end != "24:00" and end <= start else day, end, zone)
                if closes > opens:
                    found.append((opens, closes))
        day += timedelta(days=1)
    found.sort()
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in found:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def state(hours: dict, closed_on: list, timezone: str, at: datetime) -> OpenState:
    """Open at `at` (a UTC instant) or not, and the next change."""
    zone = ZoneInfo(timezone)
    today = at.astimezone(zone).date()
    for opens, closes in intervals(hours, closed_on, zone, today - timedelta(days=1),
                                   today + timedelta(days=HORIZON_DAYS)):
        if opens <= at < closes:
            return OpenState(open=True, change_at=closes, zone=zone)
        if opens > at:
            return OpenState(open=False, change_at=opens, zone=zone)
    return OpenState(open=False, change_at=None, zone=zone)


def of_store(store, at: datetime) -> OpenState:
    return state(store.hours, store.closed_on, store.timezone, at)
