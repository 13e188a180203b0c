"""The one source of 'now', and calendar arithmetic in an operator's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


def now() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """ISO-8601 with an offset or Z; a bare date/time is refused because its zone would be a guess."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write e.g. 2027-03-12T09:00:00Z")
    return value.astimezone(UTC)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def add_days(instant: datetime, days: int, tz: str) -> datetime:
    """Calendar days in the operator's zone, so a day stays a day across a DST change."""
    local = instant.astimezone(zone(tz)).replace(tzinfo=None) + timedelta(days=days)
    return _to_utc(local, tz)


def end_of_local_day(instant: datetime, tz: str) -> datetime:
    """The next local midnight at or after `instant`: validity is sold in whole days ("valid until 12 March")."""
    local = instant.astimezone(zone(tz))
    midnight = datetime.combine(local.date(), time(0))
    if local.replace(tzinfo=None) != midnight:
        midnight += timedelta(days=1)
    return _to_utc(midnight, tz)


def local_time_on(day_end: datetime, days_before: int, at: time, tz: str) -> datetime:
    """`at` o'clock local on the day `days_before` days before the last day that ends at `day_end`."""
    last_day = (day_end.astimezone(zone(tz)) - timedelta(microseconds=1)).date()
    return _to_utc(datetime.combine(last_day - timedelta(days=days_before), at), tz)


def _to_utc(naive_local: datetime, tz: str) -> datetime:
    return naive_local.replace(tzinfo=zone(tz)).astimezone(UTC)


def after_quiet_hours(instant: datetime, tz: str, start: int = 21, end: int = 9) -> datetime:
    """`instant` if it is outside the quiet hours (start:00 to end:00, local); else the end of them, local."""
    local = instant.astimezone(zone(tz))
    if end <= local.hour < start:
        return instant
    day = local.date() if local.hour < end else local.date() + timedelta(days=1)
    return _to_utc(datetime.combine(day, time(end)), tz)
