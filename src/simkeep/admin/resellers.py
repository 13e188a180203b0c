"""Back-office pages for resellers (admin and finance: `resellers.manage`): the list with a form to create one, and
each reseller's page — float, discount, purchases, statement, its people's accounts (read-only) — with forms to
record a deposit (once per reference: a repeat says "already recorded" and moves nothing) and to disable it.

reseller.service does the work; admin.statements names the statement's lines; every form carries the CSRF token."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.admin import statements
from simkeep.admin.access import StaffMember, allowed
from simkeep.admin.statements import First, Last
from simkeep.catalog.models import Operator
from simkeep.core import clock
from simkeep.core.errors import InvalidAmount, ResellerExists, ResellerNotFound
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.reseller import service as resellers
from simkeep.reseller.models import Reseller
from simkeep.staff import service as staff
from simkeep.voucher import service as vouchers
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Csrf, Lang, reader_zone, redirect, render

router = APIRouter(prefix="/admin/resellers", include_in_schema=False)
Manager = Annotated[StaffMember, Depends(allowed("resellers.manage"))]
Code = Annotated[str, Path(max_length=32)]
Notice = Annotated[str | None, Query(max_length=20)]

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
DISCOUNT = re.compile(r"^\d{1,2}([.,]\d{1,2})?$")  # percent
AMOUNT = re.compile(r"^\d{1,9}([.,]\d{1,3})?$")
TEXTS = {
    "code": N_("A reseller code has 2 to 32 characters: capital letters, digits, - or _ (for example TABAC-RIVOLI)."),
    "name": N_("Give the reseller's name (120 characters at most)."),
    "email": N_("This email address is not valid."),
    "currency": N_("Choose the currency of the reseller's float."),
    "discount": N_("The discount is a percentage from 0 to 50, with two decimals at most (for example 5 or 7.5)."),
    "reason": N_("Give a reason: it is kept in the audit log."),
    "amount": N_("Write the amount as a number greater than zero, for example 250.00."),
    "reference": N_("Give the bank transfer's reference or the receipt number (80 characters at most)."),
    "reseller_exists": N_("A reseller with this code exists already."),
    "reseller_not_found": statements.NOT_FOUND,
    "disabled": N_("This reseller is disabled: nothing can be recorded for it any more."),
    "period": statements.BAD_PERIOD,
}
DONE = {
    "created": N_("Reseller created. Record its first deposit below, then give its people their accounts with "
                  "simkeep staff create --role reseller --reseller CODE."),
    "deposit": N_("Deposit recorded: the float is credited."),
    "already": N_("This reference was already recorded: nothing moved this time."),
    "disabled": N_("Reseller disabled: its people can no longer buy or top up from its float."),
}


# -- the list, and a new reseller -----------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def reseller_list(request: Request, db: Db, member: Manager) -> Response:
    return _list_page(request, db, member)


def _list_page(request: Request, db: Database, member: StaffMember, *, status: int = 200, error: str | None = None,
               form: dict | None = None) -> Response:
    with db.transaction(write=False) as session:
        found = resellers.list_all(session)
        balances = _balances(session, found)
        currencies = _currencies(session)
    return render(request, "admin/resellers.html", status=status, resellers=found, balances=balances,
                  currencies=currencies, staff=member.username, tz=reader_zone(request), error=error,
                  form=form or {"currency": "EUR" if "EUR" in currencies else (currencies or [""])[0]})


@router.post("", response_class=HTMLResponse)
def create(request: Request, db: Db, lang: Lang, member: Manager, code: Annotated[str, Form(max_length=100)] = "",
           name: Annotated[str, Form(max_length=500)] = "", currency: Annotated[str, Form(max_length=10)] = "",
           discount: Annotated[str, Form(max_length=20)] = "", reason: Annotated[str, Form(max_length=500)] = "",
           email: Annotated[str, Form(max_length=300)] = "", _csrf: None = Csrf) -> Response:
    form = {"code": code, "name": name, "currency": currency, "discount": discount, "email": email, "reason": reason}
    code, name, email = code.strip().upper(), name.strip(), email.strip()
    currencies = db.read(_currencies)
    problem = ("code" if not CODE.match(code) else "name" if not name or len(name) > 120
               else "email" if email and (len(email) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+", email))
               else "currency" if currency not in currencies
               else "discount" if not DISCOUNT.match(discount.strip()) or _basis_points(discount) > 5_000
               else "reason" if not reason.strip() else None)
    if problem:
        return _list_page(request, db, member, status=422, error=gettext(lang, TEXTS[problem]), form=form)
    try:
        with db.transaction() as session:
            resellers.create(session, code=code, name=name, currency=currency, discount_bp=_basis_points(discount),
                             email=email or None, actor=member.actor, reason=reason.strip(), now=clock.now())
    except ResellerExists:
        return _list_page(request, db, member, status=409, error=gettext(lang, TEXTS["reseller_exists"]), form=form)
    return redirect(f"/admin/resellers/{code}?done=created")


def _basis_points(percent: str) -> int:
    return int(Decimal(percent.strip().replace(",", ".")) * 100)


def _currencies(session: Session) -> list[str]:
    """The currencies offers are sold in: a float in any other could buy nothing."""
    return sorted(set(session.scalars(select(Operator.currency))))


def _balances(session: Session, found: list[Reseller]) -> dict:
    return {r.id: resellers.float_balance(session, r) for r in found}


# -- one reseller -----------------------------------------------------------------------------------------------------

@router.get("/{code}", response_class=HTMLResponse)
def reseller_page(request: Request, db: Db, lang: Lang, member: Manager, code: Code, first: First = None,
                  last: Last = None, done: Notice = None) -> Response:
    return _page(request, db, lang, member, code, first=first, last=last, done=done)


def _page(request: Request, db: Database, lang: str, member: StaffMember, code: str, *, first: str | None = None,
          last: str | None = None, done: str | None = None, status: int = 200, error: str | None = None,
          form: dict | None = None) -> Response:
    now = clock.now()
    when = statements.period(first, last, today=now.date())
    if when is None:
        status, error = 422, gettext(lang, TEXTS["period"])
        when = statements.period(None, None, today=now.date())
    try:
        with db.transaction(write=False) as session:
            reseller = resellers.any_by_code(session, code)
            context = dict(reseller=reseller, balance=resellers.float_balance(session, reseller),
                           purchases=vouchers.purchases_of(session, reseller.id, limit=50),
                           statement=statements.statement(session, reseller, when),
                           accounts=staff.accounts_of_reseller(session, reseller.id))
    except ResellerNotFound:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["reseller_not_found"]))
    return render(request, "admin/reseller.html", status=status, staff=member.username, tz=reader_zone(request),
                  done=gettext(lang, DONE[done]) if done in DONE else None, error=error, form=form or {},
                  kind_names=statements.KIND_NAMES, serials=statements.serials,
                  statement_path=f"/admin/resellers/{reseller.code}", **context)


@router.get("/{code}/statement.csv")
def statement_csv(request: Request, db: Db, lang: Lang, _member: Manager, code: Code, first: First = None,
                  last: Last = None) -> Response:
    return statements.csv_response(request, db, lang, lambda session: resellers.any_by_code(session, code),
                                   first, last)


@router.post("/{code}/deposits", response_class=HTMLResponse)
def record_deposit(request: Request, db: Db, lang: Lang, member: Manager, code: Code,
                   amount: Annotated[str, Form(max_length=40)] = "",
                   reference: Annotated[str, Form(max_length=200)] = "",
                   reason: Annotated[str, Form(max_length=500)] = "", _csrf: None = Csrf) -> Response:
    form = {"amount": amount, "reference": reference, "reason": reason}
    try:
        reseller = db.read(lambda s: resellers.any_by_code(s, code))
    except ResellerNotFound:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["reseller_not_found"]))
    problem = None
    if reseller.disabled_at is not None:
        problem = "disabled"
    elif not AMOUNT.match(amount.strip()):
        problem = "amount"
    elif not 1 <= len(reference.strip()) <= 80:
        problem = "reference"
    elif not reason.strip():
        problem = "reason"
    money = None
    if problem is None:
        try:
            money = Money.parse(amount.strip().replace(",", "."), reseller.currency)
        except InvalidAmount:
            problem = "amount"
        if money is not None and money.minor <= 0:
            problem = "amount"
    if problem or money is None:
        return _page(request, db, lang, member, code, status=422, error=gettext(lang, TEXTS[problem or "amount"]),
                     form=form)
    paid = money
    try:
        outcome = db.write(lambda s: resellers.deposit(
            s, reseller=resellers.by_code(s, code), amount=paid, reference=reference, actor=member.actor,
            reason=reason.strip(), now=clock.now()))
    except ResellerNotFound:
        return _page(request, db, lang, member, code, status=422, error=gettext(lang, TEXTS["disabled"]), form=form)
    return redirect(f"/admin/resellers/{reseller.code}?done={'deposit' if outcome.recorded else 'already'}")


@router.post("/{code}/disable", response_class=HTMLResponse)
def disable(request: Request, db: Db, lang: Lang, member: Manager, code: Code,
            reason: Annotated[str, Form(max_length=500)] = "", _csrf: None = Csrf) -> Response:
    if not reason.strip():
        return _page(request, db, lang, member, code, status=422, error=gettext(lang, TEXTS["reason"]),
                     form={"disable_reason": reason})
    try:
        with db.transaction() as session:
            reseller = resellers.by_code(session, code)
            resellers.disable(session, reseller=reseller, actor=member.actor, reason=reason.strip(), now=clock.now())
    except ResellerNotFound:
        return _page(request, db, lang, member, code, status=422, error=gettext(lang, TEXTS["disabled"]))
    return redirect(f"/admin/resellers/{reseller.code}?done=disabled")

