"""Back-office pages: the review queue, the message log, the daily reconciliation. Sign-in is admin.signin; every
route here takes the signed-in person from admin.access.allowed, which also checks the role."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import StaffMember, allowed
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.locale.languages import gettext
from simkeep.notification import service as notifications
from simkeep.payment import reconcile, review
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Csrf, Lang, error_text, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # what the reconciliation page accepts in day=
BAD_DAY = N_("This is not a valid day. Write it as YYYY-MM-DD, between 2000 and 2099.")


@router.get("/review", response_class=HTMLResponse)
def review_queue(request: Request, db: Db, lang: Lang, member: Annotated[StaffMember, Depends(allowed("review.read"))],
                 error: str | None = None) -> Response:
    with db.transaction(write=False) as session:
        items = review.queue(session)
    return render(request, "admin/review.html", items=items, staff=member.username,
                  may_settle=member.may("review.settle"), error=error_text(lang, error[:40]) if error else None)


@router.post("/review/{attempt_id}")
def settle(request: Request, db: Db, member: Annotated[StaffMember, Depends(allowed("review.settle"))],
           attempt_id: uuid.UUID,
           decision: Annotated[str, Form(max_length=20)], reason: Annotated[str, Form(max_length=500)],
           _csrf: None = Csrf) -> Response:
    try:
        with db.transaction() as session:
            review.settle(session, attempt_id=attempt_id, decision=decision, reason=reason, actor=member.actor,
                          now=clock.now())
    except (SimkeepError, ValueError) as exc:
        return redirect(f"/admin/review?error={getattr(exc, 'code', 'invalid_input')}")
    return redirect("/admin/review")


@router.get("/messages", response_class=HTMLResponse)
def message_log(request: Request, db: Db, _member: Annotated[StaffMember, Depends(allowed("messages.read"))],
                status: str | None = None) -> Response:
    """Every message's status, attempts, last error and delivery receipt."""
    with db.transaction(write=False) as session:
        messages = notifications.recent(session, status=(status or None) and status[:20], limit=100)
    return render(request, "admin/messages.html", messages=messages)


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation(request: Request, db: Db, lang: Lang,
                   _member: Annotated[StaffMember, Depends(allowed("reconciliation.read"))],
                   day: str | None = None) -> Response:
    when = _day(day) if day else clock.now().date()
    if when is None:
        return render(request, "portal/error.html", status=422, error=gettext(lang, BAD_DAY))
    with db.transaction(write=False) as session:
        report = reconcile.daily_report(session, day=when)
    return render(request, "admin/reconciliation.html", report=report)


def _day(text: str) -> date | None:
    """A calendar day in the range the report can compute (no year 99999, no month 13): None when it is not."""
    if len(text) != 10:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        return None
    return value if FIRST_DAY <= value <= LAST_DAY else None
