"""Back-office pages for cashback and affiliate partners (admin and finance: `partners.manage`): the list with a
form to create one — its postback signing secret is shown once, on the page that answers the form, never again —
and each partner's monthly statement (conversions, reversals, commission due) with its CSV.

promotion.cashback does the work; every form carries the CSRF token."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.admin.access import StaffMember, allowed
from simkeep.catalog.models import Operator
from simkeep.core import clock
from simkeep.core.errors import InvalidAmount, InvalidInput
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.promotion import cashback
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Csrf, Lang, reader_zone, render

router = APIRouter(prefix="/admin/partners", include_in_schema=False)
Manager = Annotated[StaffMember, Depends(allowed("partners.manage"))]
Code = Annotated[str, Path(max_length=32)]
Month = Annotated[str | None, Query(max_length=10)]

PERCENT = re.compile(r"^\d{1,2}([.,]\d{1,2})?$")
AMOUNT = re.compile(r"^\d{1,6}([.,]\d{1,3})?$")
TEXTS = {
    "code": N_("A partner code has 2 to 32 characters: letters, digits, - or _ (for example CASHBACK-FR)."),
    "name": N_("Give the partner's name (120 characters at most)."),
    "percent": N_("The percentage is a number from 0 to 50, with two decimals at most (for example 2.5)."),
    "fixed": N_("The fixed amount is a number, for example 0.30."),
    "commission": N_("Give a percentage, a fixed amount or both."),
    "currency": N_("Choose the currency of the fixed amount."),
    "url": N_("The postback address must start with https:// or http://."),
    "reason": N_("Give a reason: it is kept in the audit log."),
    "exists": N_("A partner with this code exists already."),
    "not_found": N_("No partner with this code."),
    "month": N_("Give the month as YYYY-MM, for example 2026-11."),
}


@router.get("", response_class=HTMLResponse)
def partner_list(request: Request, db: Db, member: Manager) -> Response:
    return _list_page(request, db, member)


def _list_page(request: Request, db: Database, member: StaffMember, *, status: int = 200, error: str | None = None,
               form: dict | None = None, created: tuple[str, str] | None = None) -> Response:
    with db.transaction(write=False) as session:
        found = cashback.list_partners(session)
        currencies = _currencies(session)
    return render(request, "admin/partners.html", status=status, partners=found, currencies=currencies,
                  staff=member.username, tz=reader_zone(request), error=error, created=created,
                  form=form or {"currency": "EUR" if "EUR" in currencies else (currencies or [""])[0]})


@router.post("", response_class=HTMLResponse)
def create(request: Request, db: Db, lang: Lang, member: Manager, code: Annotated[str, Form(max_length=100)] = "",
           name: Annotated[str, Form(max_length=500)] = "", percent: Annotated[str, Form(max_length=20)] = "",
           fixed: Annotated[str, Form(max_length=20)] = "", currency: Annotated[str, Form(max_length=10)] = "",
           postback_url: Annotated[str, Form(max_length=600)] = "", reason: Annotated[str, Form(max_length=500)] = "",
           _csrf: None = Csrf) -> Response:
    form = {"code": code, "name": name, "percent": percent, "fixed": fixed, "currency": currency,
            "postback_url": postback_url, "reason": reason}
    code, name, postback_url = code.strip().upper(), name.strip(), postback_url.strip()
    percent, fixed = percent.strip() or "0", fixed.strip() or "0"
    currencies = db.read(_currencies)
    problem = ("code" if not cashback.CODE.match(code) else "name" if not name or len(name) > 120
               else "percent" if not PERCENT.match(percent) or _basis_points(percent) > cashback.MAX_PERCENT_BP
               else "fixed" if not AMOUNT.match(fixed)
               else "currency" if currency not in currencies
               else "commission" if _basis_points(percent) == 0 and _decimal(fixed) == 0
               else "url" if postback_url and not postback_url.startswith(("https://", "http://"))
               else "reason" if not reason.strip() else None)
    fixed_minor = 0
    if problem is None:
        try:
            fixed_minor = Money.parse(fixed.replace(",", "."), currency).minor
        except InvalidAmount:
            problem = "fixed"
    if problem:
        return _list_page(request, db, member, status=422, error=gettext(lang, TEXTS[problem]), form=form)
    try:
        with db.transaction() as session:
            partner, secret = cashback.create_partner(
                session, code=code, name=name, percent_bp=_basis_points(percent), fixed_minor=fixed_minor,
                currency=currency, postback_url=postback_url or None, actor=member.actor, reason=reason.strip(),
                now=clock.now())
    except cashback.PartnerExists:
        return _list_page(request, db, member, status=409, error=gettext(lang, TEXTS["exists"]), form=form)
    except InvalidInput:
        return _list_page(request, db, member, status=422, error=gettext(lang, TEXTS["commission"]), form=form)
    # The secret is on this page only: a reload of /admin/partners never shows it again.
    return _list_page(request, db, member, created=(partner.code, secret))


@router.get("/{code}/statement", response_class=HTMLResponse)
def statement_page(request: Request, db: Db, lang: Lang, member: Manager, code: Code, month: Month = None) -> Response:
    first = cashback.parse_month(month, today=clock.now().date())
    status, error = 200, None
    if first is None:
        status, error, first = 422, gettext(lang, TEXTS["month"]), cashback.parse_month(None, today=clock.now().date())
    assert first is not None
    try:
        with db.transaction(write=False) as session:
            result = cashback.statement(session, cashback.partner_by_code(session, code), first)
    except cashback.PartnerNotFound:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["not_found"]))
    return render(request, "admin/partner_statement.html", status=status, error=error, statement=result,
                  month=first.strftime("%Y-%m"), staff=member.username, tz=reader_zone(request))


@router.get("/{code}/statement.csv")
def statement_csv(request: Request, db: Db, lang: Lang, _member: Manager, code: Code, month: Month = None) -> Response:
    first = cashback.parse_month(month, today=clock.now().date())
    if first is None:
        return render(request, "portal/error.html", status=422, error=gettext(lang, TEXTS["month"]))
    try:
        with db.transaction(write=False) as session:
            result = cashback.statement(session, cashback.partner_by_code(session, code), first)
    except cashback.PartnerNotFound:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["not_found"]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(cashback.CSV_HEADER)
    writer.writerows(cashback.statement_rows(result))
    name = f"partner-{result.partner.code}-{first:%Y-%m}.csv"
    return Response(out.getvalue().encode(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return Decimal(0)


def _basis_points(percent: str) -> int:
    return int(_decimal(percent) * 100)


def _currencies(session: Session) -> list[str]:
    return sorted(set(session.scalars(select(Operator.currency))))
