"""Admin page: upload a camt.053 bank statement. Pages carry no bearer header, so the admin token is a form field
(compared in constant time) on top of the session's CSRF token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from simkeep.bank import camt
from simkeep.bank import service as bank
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.web.pages import Csrf, render

router = APIRouter(include_in_schema=False)
PATH = "/admin/bank/import"


def token_ok(given: str, expected: str | None) -> bool:
    """No admin token configured means no admin page."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@router.get(PATH, response_class=HTMLResponse)
def import_form(request: Request) -> HTMLResponse:
    return render(request, "bank/import.html", result=None, error=None, denied=False)


@router.post(PATH, response_class=HTMLResponse)
def import_upload(request: Request, token: Annotated[str, Form()] = "",
                  file: Annotated[UploadFile | None, File()] = None, _csrf: None = Csrf) -> HTMLResponse:
    if not token_ok(token, request.app.state.settings.admin_token):
        return render(request, "bank/import.html", status=403, result=None, error=None, denied=True)
    data = file.file.read(camt.MAX_BYTES + 1) if file is not None else b""
    if not data:
        return render(request, "bank/import.html", status=422, result=None, error="no file", denied=False)
    try:
        document, sha256 = bank.parse(data)  # before the transaction: parsing holds no lock
        with request.app.state.db.transaction() as session:
            result = bank.import_document(session, document=document, sha256=sha256, now=clock.now())
    except SimkeepError as exc:
        return render(request, "bank/import.html", status=422, result=None, error=exc.message, denied=False)
    return render(request, "bank/import.html", result=result, error=None, denied=False)
