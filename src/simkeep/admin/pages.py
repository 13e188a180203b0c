"""Back-office pages: the message log and the daily reconciliation, whose totals open to the payments they hold.
Sign-in is admin.signin, the review queue admin.review; every route here takes the signed-in person from
admin.access.allowed, which also checks the role."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import StaffMember, allowed
from simkeep.core import clock
from simkeep.locale.languages import gettext
from simkeep.notification import service as notifications
from simkeep.payment import reconcile
from simkeep.payment.providers import PROVIDERS
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Lang, reader_zone, render
from simkeep.web.params import FIRST_DAY, LAST_DAY, calendar_day

router = APIRouter(prefix="/admin", include_in_schema=False)
BAD_DAY = N_("This is not a valid day. Write it as YYYY-MM-DD, between 2000 and 2099.")
BAD_TOTAL = N_("The reconciliation has no such total.")
Reader = Annotated[StaffMember, Depends(allowed("reconciliation.read"))]
Day = Annotated[str | None, Query(description="YYYY-MM-DD; anything else is a translated 422 naming the format")]


@router.get("/messages", response_class=HTMLResponse)
def message_log(request: Request, db: Db, _member: Annotated[StaffMember, Depends(allowed("messages.read"))],
                status: str | None = None) -> Response:
    """Every message's status, attempts, last error and delivery receipt."""
    with db.transaction(write=False) as session:
        messages = notifications.recent(session, status=(status or None) and status[:20], limit=100)
    return render(request, "admin/messages.html", messages=messages)


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation(request: Request, db: Db, lang: Lang, _member: Reader, day: Day = None) -> Response:
    when = calendar_day(day) if day else clock.now().date()
    if when is None:
        return render(request, "portal/error.html", status=422, error=gettext(lang, BAD_DAY))
    with db.transaction(write=False) as session:
        report = reconcile.daily_report(session, day=when)
    return render(request, "admin/reconciliation.html", report=report, **_days(when))


@router.get("/reconciliation/payments", response_class=HTMLResponse)
def reconciliation_payments(request: Request, db: Db, lang: Lang, _member: Reader, day: Day = None,
                            total: Annotated[str, Query(max_length=20)] = "",
                            provider: Annotated[str, Query(max_length=20)] = "",
                            currency: Annotated[str, Query(max_length=3)] = "") -> Response:
    """The payments one total of the day's report holds: the list adds up to the total."""
    when = calendar_day(day) if day else clock.now().date()
    if when is None:
        return render(request, "portal/error.html", status=422, error=gettext(lang, BAD_DAY))
    if total not in reconcile.TOTALS or provider not in PROVIDERS or not (currency.isascii() and currency.isupper()
                                                                           and len(currency) == 3):
        return render(request, "portal/error.html", status=404, error=gettext(lang, BAD_TOTAL))
    with db.transaction(write=False) as session:
        rows = reconcile.payments_in(session, day=when, total=total, provider=provider, currency=currency)
    return render(request, "admin/reconciliation_payments.html", rows=rows, total=total, provider=provider,
                  currency=currency, sum_minor=sum(amount for _, amount in rows), tz=reader_zone(request),
                  **_days(when))


def _days(when: date) -> dict:
    """The day shown and its neighbours, for the day picker's links (within the range the report accepts)."""
    before, after = when - timedelta(days=1), when + timedelta(days=1)
    return {"day": when, "previous_day": before if before >= FIRST_DAY else None,
            "next_day": after if after <= LAST_DAY else None}

