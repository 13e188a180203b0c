"""Back-office pages: sign in with the admin token, the review queue, the daily reconciliation."""

from __future__ import annotations

import hmac
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.notification import service as notifications
from simkeep.payment import reconcile, review
from simkeep.web.pages import Csrf, Lang, error_text, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)


def _staff(request: Request) -> str | None:
    return request.session.get("staff")


@router.get("", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return redirect("/admin/review") if _staff(request) else render(request, "admin/login.html", error=None)


@router.post("", response_class=HTMLResponse)
def login(request: Request, lang: Lang, token: Annotated[str, Form()], name: Annotated[str, Form()],
          _csrf: None = Csrf) -> Response:
    expected = request.app.state.settings.admin_token or ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()) or not name.strip():
        return render(request, "admin/login.html", status=401, error=error_text(lang, "admin_denied"))
    request.session["staff"] = name.strip()[:80]
    return redirect("/admin/review")


@router.get("/review", response_class=HTMLResponse)
def review_queue(request: Request, lang: Lang, error: str | None = None) -> Response:
    if not _staff(request):
        return redirect("/admin")
    with request.app.state.db.transaction(write=False) as session:
        items = review.queue(session)
    return render(request, "admin/review.html", items=items, staff=_staff(request),
                  error=error_text(lang, error) if error else None)


@router.post("/review/{attempt_id}")
def settle(request: Request, attempt_id: str, decision: Annotated[str, Form()], reason: Annotated[str, Form()],
           _csrf: None = Csrf) -> Response:
    if not _staff(request):
        return redirect("/admin")
    try:
        with request.app.state.db.transaction() as session:
            review.settle(session, attempt_id=uuid.UUID(attempt_id), decision=decision, reason=reason,
                          actor=_staff(request), now=clock.now())
    except (SimkeepError, ValueError) as exc:
        return redirect(f"/admin/review?error={getattr(exc, 'code', 'invalid_input')}")
    return redirect("/admin/review")


@router.get("/messages", response_class=HTMLResponse)
def message_log(request: Request, status: str | None = None) -> Response:
    """Every message's status, attempts, last error and delivery receipt."""
    if not _staff(request):
        return redirect("/admin")
    with request.app.state.db.transaction(write=False) as session:
        messages = notifications.recent(session, status=status or None, limit=100)
    return render(request, "admin/messages.html", messages=messages)


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation(request: Request, day: str | None = None) -> Response:
    if not _staff(request):
        return redirect("/admin")
    when = date.fromisoformat(day) if day else clock.now().date()
    with request.app.state.db.transaction(write=False) as session:
        report = reconcile.daily_report(session, day=when)
    return render(request, "admin/reconciliation.html", report=report)
