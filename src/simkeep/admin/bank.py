"""Admin pages for bank transfers: upload a camt.053 statement, and settle the entries waiting for review.

Every route takes the signed-in staff member from admin.access.allowed (finance or admin to import and settle;
support may read the queue). The upload's body is limited before any of this: web.limits.BodyLimit lets a
statement-sized body through only for a live staff session whose role may import (main.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import StaffMember, allowed
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.payment.providers.sepa import camt
from simkeep.payment.providers.sepa import service as bank
from simkeep.staff import service as staff
from simkeep.web.deps import Db
from simkeep.web.pages import Csrf, Lang, error_text, redirect, render

router = APIRouter(include_in_schema=False)
PATH = "/admin/bank/import"
REVIEW_PATH = "/admin/bank/review"
Importer = Annotated[StaffMember, Depends(allowed("bank.import"))]


@router.get(PATH, response_class=HTMLResponse)
def import_form(request: Request, member: Importer) -> HTMLResponse:
    return _page(request, member)


@router.post(PATH, response_class=HTMLResponse)
def import_upload(request: Request, db: Db, member: Importer, file: Annotated[UploadFile | None, File()] = None,
                  _csrf: None = Csrf) -> HTMLResponse:
    data = file.file.read(camt.MAX_BYTES + 1) if file is not None else b""
    if file is None or not data:
        return _page(request, member, status=422, error="no file")
    try:
        document, sha256 = bank.parse(data)  # before the transaction: parsing holds no lock
        with db.transaction() as session:
            now = clock.now()
            result = bank.import_document(session, document=document, sha256=sha256, now=now)
            staff.record_action(session, who=member.actor, action="bank.import", subject_type="bank_statement",
                                subject_id=sha256, reason="statement uploaded",
                                details={"new": result.new, "matched": result.matched, "review": result.review,
                                         "file_name": (file.filename or "")[:100]}, now=now)
    except SimkeepError as exc:
        return _page(request, member, status=422, error=exc.message)
    return _page(request, member, result=result)


def _page(request: Request, member: StaffMember, *, status: int = 200, result=None,
          error: str | None = None) -> HTMLResponse:
    return render(request, "admin/bank_import.html", status=status, result=result, error=error, staff=member.username)


@router.get(REVIEW_PATH, response_class=HTMLResponse)
def review_queue(request: Request, db: Db, lang: Lang, member: Annotated[StaffMember,
                 Depends(allowed("bank.review.read"))],
                 error: str | None = None) -> Response:
    with db.transaction(write=False) as session:
        entries = bank.entries(session, status=bank.REVIEW)
    return render(request, "admin/bank_review.html", entries=entries, staff=member.username,
                  may_settle=member.may("bank.settle"), error=error_text(lang, error[:40]) if error else None)


@router.post(REVIEW_PATH + "/{entry_id}")
def settle(request: Request, db: Db, member: Annotated[StaffMember, Depends(allowed("bank.settle"))], entry_id: str,
           reason: Annotated[str, Form(max_length=500)] = "", _csrf: None = Csrf) -> Response:
    try:
        with db.transaction() as session:
            bank.settle(session, entry_id=entry_id, actor=member.actor, reason=reason, now=clock.now())
    except SimkeepError as exc:
        return redirect(f"{REVIEW_PATH}?error={exc.code}")
    return redirect(REVIEW_PATH)
