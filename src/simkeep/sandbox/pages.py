"""The sandbox provider's hosted pay page: what a payer sees at the payment service, played inside simkeep."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.sandbox import service as sandbox
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Csrf, Lang, error_text, redirect, render

router = APIRouter(prefix="/sandbox", include_in_schema=False)


@router.get("/pay/{ref}", response_class=HTMLResponse)
def pay_page(request: Request, db: Db, settings: Config, lang: Lang, ref: str) -> Response:
    payment = _find(db, ref)
    if payment is None:
        return render(request, "portal/error.html", status=404, error=error_text(lang, "payment_not_found"))
    if payment.status == sandbox.REQUIRES_ACTION:
        return redirect(f"/sandbox/3ds/{ref}")
    qr = None
    if payment.method in ("wechat_pay", "alipay"):
        qr = segno.make(f"{settings.base_url}/sandbox/pay/{ref}", error="m").svg_inline(scale=5)
    return render(request, "sandbox/pay.html", payment=payment, qr=qr, test_cards=(
        sandbox.APPROVE_CARD, sandbox.DECLINE_CARD, sandbox.CHALLENGE_CARD))


@router.post("/pay/{ref}")
def pay_action(request: Request, db: Db, settings: Config, ref: str, action: Annotated[str, Form()],
               card_number: Annotated[str, Form()] = "", _csrf: None = Csrf) -> Response:
    return _act(db, settings, ref, action, card_number)


@router.get("/3ds/{ref}", response_class=HTMLResponse)
def challenge_page(request: Request, db: Db, lang: Lang, ref: str) -> Response:
    payment = _find(db, ref)
    if payment is None:
        return render(request, "portal/error.html", status=404, error=error_text(lang, "payment_not_found"))
    return render(request, "sandbox/challenge.html", payment=payment)


@router.post("/3ds/{ref}")
def challenge_action(request: Request, db: Db, settings: Config, ref: str, action: Annotated[str, Form()],
                     _csrf: None = Csrf) -> Response:
    return _act(db, settings, ref, action)


def _find(db: Database, ref: str):
    try:
        with db.transaction(write=False) as session:
            return sandbox.get_payment(session, ref)
    except SimkeepError:
        return None


def _act(db: Database, settings: Settings, ref: str, action: str, card_number: str = "") -> Response:
    with db.transaction() as session:
        payment = sandbox.act(session, ref=ref, action=action, card_number=card_number,
                              webhook_url=f"{settings.base_url}/webhooks/sandbox", now=clock.now())
    if payment.status == sandbox.REQUIRES_ACTION:
        return redirect(f"/sandbox/3ds/{ref}")
    return redirect(payment.return_url)
