"""Receipts: the public verification page (masked number only) and the PDF."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.core import phone
from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.receipt import pdf
from simkeep.receipt import service as receipts
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Lang, error_text, render

router = APIRouter(prefix="/receipts", include_in_schema=False)


def _load(db: Database, settings: Settings, token: str):
    with db.transaction(write=False) as session:
        receipt = receipts.from_token(session, settings.verifying_keys("receipt"), token)
        operator = catalog.get_operator(session, receipt.operator_id)
        return receipt, operator, catalog.get_offer(session, receipt.offer_id, operator)


@router.get("/{token}.pdf")
def receipt_pdf(request: Request, db: Db, settings: Config, lang: Lang, token: str,
                format: Annotated[Literal["a4", "thermal"], Query()] = "a4") -> Response:
    """The receipt as a PDF: `format=thermal` for an 80 mm receipt printer, else the A4 sheet."""
    try:
        receipt, operator, offer = _load(db, settings, token)
    except SimkeepError as exc:
        return render(request, "portal/error.html", status=404, error=error_text(lang, exc.code))
    # The link printed is the canonical one (current key), whichever still-valid link was followed.
    verify_url = f"{settings.base_url}/receipts/{receipts.token_for(settings.key('receipt'), receipt.id)}"
    body = pdf.stored_or_render(db, receipt, operator, validity_days=offer.validity_days,
                                verify_url=verify_url, layout=format)
    name = receipt.number if format == receipts.A4 else f"{receipt.number}-{format}"
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


@router.get("/{token}", response_class=HTMLResponse)
def verify_page(request: Request, db: Db, settings: Config, lang: Lang, token: str) -> Response:
    try:
        receipt, operator, _offer = _load(db, settings, token)
    except SimkeepError as exc:
        return render(request, "receipt/verify.html", status=404, receipt=None, error=error_text(lang, exc.code))
    return render(request, "receipt/verify.html", receipt=receipt, operator=operator, token=token,
                  masked=phone.masked(receipt.msisdn), error=None)
