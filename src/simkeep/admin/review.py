"""The payment review queue: each item with its date, amount, provider and reference, line and reason; staff
credit it, refund it or dismiss it with a reason (payment.review and payment.flow do the work)."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import RoleForbidden, StaffMember, allowed
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.payment import flow, review
from simkeep.payment import service as payments
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Csrf, Lang, error_text, reader_zone, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)
Notice = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")]
# What the page says after a decision: the refund's outcome is the provider's answer.
DONE = ("credit", "dismiss", "refunded", "refund_pending")


@router.get("/review", response_class=HTMLResponse)
def review_queue(request: Request, db: Db, lang: Lang, member: Annotated[StaffMember, Depends(allowed("review.read"))],
                 error: Notice = None, done: Notice = None) -> Response:
    with db.transaction(write=False) as session:
        items = [(attempt, *payments.review_reason(attempt)) for attempt in review.queue(session)]
    return render(request, "admin/review.html", items=items, staff=member.username, tz=reader_zone(request),
                  may_settle=member.may("review.settle"), may_refund=member.may("review.refund"),
                  may_resellers=member.may("resellers.manage"),
                  may_vouchers=member.may("vouchers.read"), may_dashboard=member.may("dashboard.read"),
                  # One key per rendering: a double-submitted refund is sent once (payment.refunds replays it).
                  refund_key=secrets.token_urlsafe(16), done=done if done in DONE else None,
                  error=error_text(lang, error) if error else None)


@router.post("/review/{attempt_id}")
def settle(request: Request, db: Db, settings: Config,
           member: Annotated[StaffMember, Depends(allowed("review.settle"))], attempt_id: uuid.UUID,
           decision: Annotated[str, Form(max_length=20)], reason: Annotated[str, Form(max_length=500)],
           key: Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = "",
           _csrf: None = Csrf) -> Response:
    try:
        if decision == review.REFUND:
            if not member.may("review.refund"):
                raise RoleForbidden()
            refund = flow.refund_review_item(db, settings, attempt_id=attempt_id, reason=reason, actor=member.actor,
                                             idempotency_key=f"review:{key or secrets.token_urlsafe(16)}")
            outcome = {"succeeded": "done=refunded", "pending": "done=refund_pending"}.get(
                refund.status, "error=refund_refused")
            return redirect(f"/admin/review?{outcome}")
        with db.transaction() as session:
            review.settle(session, attempt_id=attempt_id, decision=decision, reason=reason, actor=member.actor,
                          receipt_secret=settings.key("receipt"), base_url=settings.base_url, now=clock.now())
    except RoleForbidden:
        raise
    except SimkeepError as exc:
        return redirect(f"/admin/review?error={exc.code}")
    return redirect(f"/admin/review?done={decision}")
