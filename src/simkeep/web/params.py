"""Bounded parameter types for API routes: what Python and both databases can hold, refused with 422 otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)  # a day short of year 10000, so +/- one day never overflows


def _bounded_instant(value: datetime) -> datetime:
    """In UTC, between 1900 and 9999: 9999-12-31T23:59:59-23:59 is a valid ISO instant that lies in year 10000 in
    UTC, and converting it overflowed into a 500."""
    try:
        instant = value.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST <= instant <= LATEST:
        raise ValueError("must be an instant between 1900-01-01T00:00:00Z and 9999-12-30T00:00:00Z")
    return instant


Instant = Annotated[AwareDatetime, AfterValidator(_bounded_instant)]
