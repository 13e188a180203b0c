"""Bounded parameter types for API routes: what Python and both databases can hold, refused with 422 otherwise."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Path, Request
from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from simkeep.core.errors import InvalidInput

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)  # a day short of year 10000, so +/- one day never overflows
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # the days a back-office report accepts in a query


def calendar_day(text: str) -> date | None:
    """A YYYY-MM-DD day a report can compute (no year 99999, no month 13), or None when it is not one."""
    if len(text) != 10:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        return None
    return value if FIRST_DAY <= value <= LAST_DAY else None


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    """Only what OpenAPI's `date-time` means (RFC 3339, with its offset): not a Unix timestamp such as "0", which
    pydantic would otherwise read as 1970."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 instant with its offset, e.g. 2027-03-12T09:00:00Z")
    return value


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


def known_query(*names: str):
    """A dependency refusing query parameters a route does not take (422 `invalid_input`): a misspelt `sinse=`
    would otherwise be ignored and answer the whole statement as if it were asked for."""
    allowed = frozenset(names)

    async def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise InvalidInput(f"unknown query parameter: {unknown[0][:40]!r}")

    return check


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_bounded_instant)]

Msisdn = Annotated[str, Path(max_length=250, description="E.164 (+33612345678) or national (0612345678)")]
