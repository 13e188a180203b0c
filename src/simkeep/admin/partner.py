"""A reseller's own pages (/reseller), for the people who sign in with a staff account of role `reseller`: its
float, discount, purchases and commissions, its statement (on the page and as a CSV), buying e-PINs and topping
up a customer's line from the float.

The reseller is the signed-in account's (StaffAccount.reseller_id), never one named in the address, so nobody sees
another reseller's pages; a subscriber appears only as a masked number. Buying and topping up are idempotent per
form: each rendering carries a fresh key in a hidden field, so a form sent twice answers the first result again
and the float moves once. The PINs of a purchase are shown once, on the page that answers the form (with a CSV of
them in that same page); no GET ever shows them again."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.admin import statements
from simkeep.admin.access import StaffMember, StaffPageError, allowed
from simkeep.catalog.models import Offer, Operator
from simkeep.core import clock
from simkeep.core.errors import IdempotencyKeyReused, InsufficientFloat, ResellerNotFound, SimkeepError
from simkeep.core.money import Money
from simkeep.core.phone import masked
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.reseller import service as resellers
from simkeep.reseller.models import Reseller
from simkeep.voucher import export, pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import VoucherBatch
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Csrf, Lang, error_text, reader_zone, render

router = APIRouter(prefix="/reseller", include_in_schema=False)
Partner = Annotated[StaffMember, Depends(allowed("reseller.self"))]
Key = Annotated[str, Form(max_length=64)]
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
QUANTITY = re.compile(r"^\d{1,5}$")
TEXTS = {
    "insufficient_float": N_("Your float is too low for this: nothing was bought and nothing moved. Ask the operator "
                             "to record a deposit, or choose less."),
    "idempotency_key_reused": N_("This form was already sent with other choices. Check the fresh one below and send "
                                 "it again."),
    "offer": N_("Choose one of the offers in the list."),
    "quantity": N_("Choose a quantity from 1 to %(max)s."),
    "offer_not_found": N_("This offer is not sold for this number's operator. Choose one of its offers."),
    "line_not_found": N_("No line has this number: check it with the customer."),
}


class ResellerUnavailable(StaffPageError):
    """The account is of role reseller but its reseller is disabled (or it was never bound to one)."""

    code, status, message = "reseller_unavailable", 403, "This reseller account is disabled. Ask the operator."


def _reseller(session: Session, member: StaffMember) -> Reseller:
    if member.reseller_id is None:
        raise ResellerUnavailable()
    try:
        return resellers.get(session, member.reseller_id)
    except ResellerNotFound:
        raise ResellerUnavailable() from None


@dataclass(frozen=True, slots=True)
class Choice:
    """An offer the reseller may sell: what the customer gets, what the float pays."""

    offer: Offer
    operator: Operator
    face: Money
    paid: Money


def _choices(session: Session, reseller: Reseller) -> list[Choice]:
    rows = session.execute(select(Offer, Operator).join(Operator, Operator.id == Offer.operator_id)
                           .where(Operator.currency == reseller.currency)
                           .order_by(Operator.brand, Operator.product, Offer.price_minor, Offer.id))
    return [Choice(offer, operator, face := Money(offer.price_minor, operator.currency),
                   resellers.split(reseller, face)[0]) for offer, operator in rows]


# -- home and statement ------------------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def home(request: Request, db: Db, member: Partner) -> Response:
    now = clock.now()
    with db.transaction(write=False) as session:
        reseller = _reseller(session, member)
        balance = resellers.float_balance(session, reseller)
        purchases = vouchers.purchases_of(session, reseller.id, limit=10)
        commissions = statements.recent_commissions(session, reseller, now=now)
        offers = {c.offer.id: c for c in _choices(session, reseller)}
    return render(request, "reseller/home.html", member=member, tz=reader_zone(request), reseller=reseller,
                  balance=balance, purchases=purchases, commissions=commissions, offers=offers,
                  kind_names=statements.KIND_NAMES, serials=statements.serials)


@router.get("/statement", response_class=HTMLResponse)
def statement(request: Request, db: Db, lang: Lang, member: Partner, first: statements.First = None,
              last: statements.Last = None) -> Response:
    today = clock.now().date()
    when = statements.period(first, last, today=today)
    status, error = 200, None
    if when is None:
        status, error = 422, gettext(lang, statements.BAD_PERIOD)
        when = statements.period(None, None, today=today)
    with db.transaction(write=False) as session:
        reseller = _reseller(session, member)
        found = statements.statement(session, reseller, when)
    return render(request, "reseller/statement.html", status=status, error=error, member=member, reseller=reseller,
                  statement=found, statement_path="/reseller/statement", tz=reader_zone(request),
                  kind_names=statements.KIND_NAMES)


@router.get("/statement.csv")
def statement_csv(request: Request, db: Db, lang: Lang, member: Partner, first: statements.First = None,
                  last: statements.Last = None) -> Response:
    return statements.csv_response(request, db, lang, lambda session: _reseller(session, member), first, last)


# -- e-PINs --------------------------------------------------------------------------------------------------------------

@router.get("/epins", response_class=HTMLResponse)
def epins_form(request: Request, db: Db, member: Partner) -> Response:
    return _epins_form(request, db, member)


def _epins_form(request: Request, db: Database, member: StaffMember, *, status: int = 200, error: str | None = None,
                offer: str = "", quantity: str = "") -> Response:
    with db.transaction(write=False) as session:
        reseller = _reseller(session, member)
        balance = resellers.float_balance(session, reseller)
        choices = _choices(session, reseller)
    return render(request, "reseller/epins.html", status=status, error=error, member=member, reseller=reseller,
                  balance=balance, choices=choices, offer=offer, quantity=quantity, most=vouchers.MAX_EPINS,
                  key=secrets.token_urlsafe(16))


@router.post("/epins", response_class=HTMLResponse)
def buy_epins(request: Request, db: Db, settings: Config, lang: Lang, member: Partner,
              offer: Annotated[str, Form(max_length=80)] = "", quantity: Annotated[str, Form(max_length=10)] = "",
              key: Key = "", _csrf: None = Csrf) -> Response:
    def again(status: int, error: str) -> Response:
        return _epins_form(request, db, member, status=status, error=error, offer=offer, quantity=quantity)

    with db.transaction(write=False) as session:
        sellable = {c.offer.id for c in _choices(session, _reseller(session, member))}
    if offer not in sellable:
        return again(422, gettext(lang, TEXTS["offer"]))
    if not QUANTITY.match(quantity.strip()) or not 1 <= int(quantity) <= vouchers.MAX_EPINS:
        return again(422, gettext(lang, TEXTS["quantity"]) % {"max": vouchers.MAX_EPINS})
    keys = pins.keys(settings)
    now = clock.now()
    form_key = key if KEY.match(key) else secrets.token_urlsafe(16)

    def buy(session: Session) -> tuple[vouchers.EpinPurchase, Reseller, Money, VoucherBatch]:
        reseller = _reseller(session, member)
        bought = vouchers.buy_epins(session, reseller=reseller, principal=member.actor,
                                    idempotency_key=f"page:{form_key}", offer_id=offer, quantity=int(quantity),
                                    keys=keys, now=now)
        batch = session.scalars(select(VoucherBatch).where(
            VoucherBatch.serial_from == bought.purchase.serial_from)).one()
        return bought, reseller, resellers.float_balance(session, reseller), batch

    try:
        bought, reseller, balance, batch = db.write(buy)
    except (InsufficientFloat, IdempotencyKeyReused) as exc:
        return again(exc.status, gettext(lang, TEXTS[exc.code]))
    except SimkeepError as exc:
        if isinstance(exc, StaffPageError):
            raise
        return again(exc.status, error_text(lang, exc.code))
    table = export.csv_bytes(batch, bought.cards)
    response = render(request, "reseller/epins_done.html", member=member, reseller=reseller, bought=bought,
                      batch=batch, balance=balance, grouped=pins.grouped, tz=reader_zone(request),
                      csv_href="data:text/csv;base64," + base64.b64encode(table).decode(),
                      csv_name=f"epins-{statements.serials(bought.purchase)}.csv")
    response.headers["Cache-Control"] = "no-store"  # the PINs are on this page, and only here
    return response


# -- a customer's line, topped up from the float --------------------------------------------------------------------------

@router.get("/topup", response_class=HTMLResponse)
def topup_form(request: Request, db: Db, member: Partner) -> Response:
    return _topup_form(request, db, member)


def _topup_form(request: Request, db: Database, member: StaffMember, *, status: int = 200, error: str | None = None,
                msisdn: str = "", offer: str = "") -> Response:
    with db.transaction(write=False) as session:
        reseller = _reseller(session, member)
        balance = resellers.float_balance(session, reseller)
        choices = _choices(session, reseller)
    return render(request, "reseller/topup.html", status=status, error=error, member=member, reseller=reseller,
                  balance=balance, choices=choices, msisdn=msisdn, offer=offer, key=secrets.token_urlsafe(16))


@router.post("/topup", response_class=HTMLResponse)
def top_up(request: Request, db: Db, settings: Config, lang: Lang, member: Partner,
           msisdn: Annotated[str, Form(max_length=40)] = "", offer: Annotated[str, Form(max_length=80)] = "",
           key: Key = "", _csrf: None = Csrf) -> Response:
    def again(status: int, error: str) -> Response:
        return _topup_form(request, db, member, status=status, error=error, msisdn=msisdn, offer=offer)

    with db.transaction(write=False) as session:
        choices = {c.offer.id: c for c in _choices(session, _reseller(session, member))}
    if offer not in choices:
        return again(422, gettext(lang, TEXTS["offer"]))
    form_key = key if KEY.match(key) else secrets.token_urlsafe(16)
    now = clock.now()

    def work(session: Session):
        reseller = _reseller(session, member)
        done = resellers.top_up_line(session, reseller=reseller, principal=member.actor,
                                     idempotency_key=f"page:{form_key}", msisdn=msisdn, offer_id=offer, now=now,
                                     region=settings.default_region)
        return done, reseller, resellers.float_balance(session, reseller)

    try:
        done, reseller, balance = db.write(work)
    except SimkeepError as exc:
        if isinstance(exc, StaffPageError):
            raise
        text = TEXTS.get(exc.code)
        return again(exc.status, gettext(lang, text) if text else error_text(lang, exc.code))
    topup = done.topup
    face = Money(topup.price_minor, topup.currency)
    paid, commission = resellers.split(reseller, face)
    return render(request, "reseller/topup_done.html", member=member, reseller=reseller, replayed=done.replayed,
                  number=masked(topup.msisdn), choice=choices[topup.offer_id], face=face, paid=paid,
                  commission=commission, balance=balance)
