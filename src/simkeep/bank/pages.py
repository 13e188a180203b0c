"""Admin pages for bank transfers: upload a camt.053 statement, and settle the entries waiting for review.

Staff signed in on /admin (the admin token, once per session) use them directly; the upload also takes the admin
token as a form field (compared in constant time), for a one-off upload without signing in. Forms carry the
session's CSRF token either way."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from simkeep.bank import camt
from simkeep.bank import service as bank
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.web.pages import Csrf, Lang, error_text, redirect, render

router = APIRouter(include_in_schema=False)
PATH = "/admin/bank/import"
REVIEW_PATH = "/admin/bank/review"


def token_ok(given: str, expected: str | None) -> bool:
    """No admin token configured means no admin page."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _staff(request: Request) -> str | None:
    """The name of the staff member signed in on /admin, if any (admin.pages keeps it in the session)."""
    return request.session.get("staff")


@router.get(PATH, response_class=HTMLResponse)
def import_form(request: Request) -> HTMLResponse:
    return _page(request)


@router.post(PATH, response_class=HTMLResponse)
def import_upload(request: Request, token: Annotated[str, Form()] = "",
                  file: Annotated[UploadFile | None, File()] = None, _csrf: None = Csrf) -> HTMLResponse:
    if not _staff(request) and not token_ok(token, request.app.state.settings.admin_token):
        return _page(request, status=403, denied=True)
    data = file.file.read(camt.MAX_BYTES + 1) if file is not None else b""
    if not data:
        return _page(request, status=422, error="no file")
    try:
        document, sha256 = bank.parse(data)  # before the transaction: parsing holds no lock
        with request.app.state.db.transaction() as session:
            result = bank.import_document(session, document=document, sha256=sha256, now=clock.now())
    except SimkeepError as exc:
        return _page(request, status=422, error=exc.message)
    return _page(request, result=result)


def _page(request: Request, *, status: int = 200, result=None, error: str | None = None,
          denied: bool = False) -> HTMLResponse:
    return render(request, "bank/import.html", status=status, result=result, error=error, denied=denied,
                  staff=_staff(request))


@router.get(REVIEW_PATH, response_class=HTMLResponse)
def review_queue(request: Request, lang: Lang, error: str | None = None) -> Response:
    if not _staff(request):
        return redirect("/admin")
    with request.app.state.db.transaction(write=False) as session:
        entries = bank.entries(session, status=bank.REVIEW)
    return render(request, "bank/review.html", entries=entries, staff=_staff(request),
                  error=error_text(lang, error) if error else None)


@router.post(REVIEW_PATH + "/{entry_id}")
def settle(request: Request, entry_id: str, reason: Annotated[str, Form()] = "", _csrf: None = Csrf) -> Response:
    if not _staff(request):
        return redirect("/admin")
    try:
        with request.app.state.db.transaction() as session:
            bank.settle(session, entry_id=entry_id, actor=_staff(request), reason=reason, now=clock.now())
    except SimkeepError as exc:
        return redirect(f"{REVIEW_PATH}?error={exc.code}")
    return redirect(REVIEW_PATH)
