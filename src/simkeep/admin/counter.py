"""The agent console (/counter), phone- and tablet-first, for a store's agents and its manager.

Every page needs the permission store.console (a void: store.manage) and works on the signed-in member's own store
(StaffAccount.store_id, never one named in the address): a member without a store gets a 403, a sale or receipt of
another store a 403 (store.service.in_store). The journey: the number (typed any way) → the line's page: its facts,
the ID check (required before a sale: one of this line at this store in the last console.ID_CHECK_MINUTES minutes),
the offer that keeps the number past a date the customer names, and the sale form → the sale page with its receipt
(80 mm and A4 PDFs) and, for a store manager within SIMKEEP_STORE_VOID_MINUTES, the void form.

A sale form carries a fresh idempotency key each time it is rendered: sent twice (a double tap, a retry after a
lost answer) it sells once and answers the first sale (store.service.sell; db.write retries once on a UNIQUE race).
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from simkeep.admin.access import StaffMember, StaffPageError, in_store
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import InvalidInput, SimkeepError
from simkeep.core.phone import lookup_msisdn, masked
from simkeep.db import Database
from simkeep.locale import formats, languages
from simkeep.network import esim
from simkeep.plan import service as keep
from simkeep.receipt import service as receipts
from simkeep.store import console
from simkeep.store import service as stores
from simkeep.store.models import CARD, CASH, ID_DOCUMENTS, METHODS, VOUCHER
from simkeep.store.service import Commission, Seller
from simkeep.voucher import pins
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Csrf, Lang, error_text, reader, redirect, render

router = APIRouter(prefix="/counter", include_in_schema=False)
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
Msisdn = Annotated[str, Path(max_length=32)]
# What the agent reads when a quote cannot be paid; the counter then shows a new quote (nothing was taken).
QUOTE_TEXTS = {
    "quote_expired": N_("The price shown has expired: here is the price now. Nothing was taken; show it to the "
                        "customer and sell again."),
    "promotion_unavailable": N_("A promotion in the price shown has run out: here is the price now. Nothing was "
                                "taken; show it to the customer and sell again."),
    "quote_used": N_("This price was already paid: here is a new one. Nothing was taken twice."),
    "quote_mismatch": N_("The price shown was for another offer: here is the price of this one. Nothing was taken."),
    "quote_not_found": N_("The price shown is no longer on file: here is the price now. Nothing was taken."),
    "promo_code_invalid": N_("This promo code is unknown, has expired or does not apply to this renewal."),
}
REQUOTE = frozenset({"quote_expired", "promotion_unavailable", "quote_used", "quote_mismatch", "quote_not_found"})
SaleId = Annotated[uuid.UUID, Path()]


_member = in_store("store.console")  # the role, the member's open store, and a PIN session's tablet still live
_manager = in_store("store.manage")


Agent = Annotated[StaffMember, Depends(_member)]
Manager = Annotated[StaffMember, Depends(_manager)]


def _seller(member: StaffMember) -> Seller:
    assert member.store_id is not None
    return Seller(agent_id=member.id, actor=member.actor, store_id=member.store_id)


def _store(session: Session, member: StaffMember):
    assert member.store_id is not None  # in_store
    return stores.get_store(session, member.store_id)


def _receipt_url(settings: Settings, receipt_id: uuid.UUID) -> str:
    return f"{settings.base_url}/receipts/{receipts.token_for(settings.key('receipt'), receipt_id)}"


# -- home -----------------------------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def home(request: Request, db: Db, settings: Config, member: Agent,
         msisdn: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """The number field (any format: +33 6 12…, 06 12…), the drawer's state and today's sales. A number typed
    here opens its line's page."""
    lang = reader(request).language
    error, status = None, 200
    if msisdn is not None:
        try:
            number = lookup_msisdn(msisdn.strip(), settings.default_region)
        except SimkeepError as exc:
            error, status = error_text(lang, exc.code), 422
        else:
            return redirect(f"/counter/lines/{quote(number)}")
    now = clock.now()
    with db.transaction(write=False) as session:
        store = _store(session, member)
        drawer = stores.open_drawer_of(session, member.id)
        expected = stores.expected_cash(session, drawer) if drawer else None
        today = console.sales_of(session, store_id=store.id, day=console.store_day(store, now))
    return render(request, "counter/home.html", status=status, error=error, member=member, store=store,
                  drawer=drawer, expected=expected, day=today, typed=(msisdn or "")[:32], tz=store.timezone,
                  manager=member.may("store.manage"))


# -- a line ---------------------------------------------------------------------------------------------------------

@router.get("/lines/{msisdn}", response_class=HTMLResponse)
def line_page(request: Request, db: Db, settings: Config, member: Agent, msisdn: Msisdn,
              until: Annotated[str | None, Query(max_length=10)] = None,
              done: Annotated[str | None, Query(max_length=10)] = None,
              quote_id: Annotated[str | None, Query(alias="quote", max_length=36)] = None) -> Response:
    try:
        number = lookup_msisdn(msisdn, settings.default_region)
    except SimkeepError as exc:
        return _not_found(request, member, msisdn, exc)
    if number != msisdn:
        return redirect(f"/counter/lines/{quote(number)}")
    return _line_page(request, db, settings, member, number, until=until, done=done, quote_id=quote_id)


def _keep_plans(session: Session, number: str, until: str, now, lang: str) -> list:
    """The keep-my-number plans (plan/) for the customer's date, explained in the page's language; none when the
    date or the line cannot be planned (the recommendation above says why)."""
    try:
        found = keep.plans_for(session, msisdn=number, until=date.fromisoformat(until), now=now, channel="agent")
    except (ValueError, SimkeepError):
        return []
    return [(p, keep.explain(p, lang, today=found.today, msisdn=number)) for p in found.plans]


def _not_found(request: Request, member: StaffMember, typed: str, exc: SimkeepError) -> Response:
    return render(request, "counter/not_found.html", status=exc.status, member=member, typed=typed[:32],
                  error=error_text(reader(request).language, exc.code))


def _line_page(request: Request, db: Database, settings: Settings, member: StaffMember, number: str, *,
               status: int = 200, error: str | None = None, until: str | None = None, done: str | None = None,
               form: dict | None = None, quote_id: str | None = None) -> Response:
    """The line's facts, the ID check, the recommendation, the offers at their counter price and, once the agent
    asked for it (`quote_id`), the quote: what the customer pays, what it brings and until when the price holds;
    the payment form then charges exactly that quote."""
    lang, locale = reader(request).language, reader(request).locale
    now = clock.now()
    recommendation, until_error, keep_plans = None, None, []
    with db.transaction(write=False) as session:
        store = _store(session, member)
        try:
            facts = console.look_up(session, msisdn=number, region=settings.default_region)
        except SimkeepError as exc:
            return _not_found(request, member, number, exc)
        if until:
            try:
                recommendation = console.recommend(session, line=facts.line, until=date.fromisoformat(until),
                                                   now=now)
            except ValueError:
                until_error = error_text(lang, "recommend_date_invalid")
            except SimkeepError as exc:
                until_error = error_text(lang, exc.code)
            keep_plans = _keep_plans(session, number, until, now, lang)
        checked = console.recent_id_check(session, store_id=store.id, line_id=facts.line.id, now=now)
        form = form or {}
        code = form.get("code") or None
        try:
            choices, _capped = (console.options(session, facts.line, now=now, code=code) if facts.renewable
                                else ([], []))
        except SimkeepError:  # a promo code that brings nothing: the offers at their price without it
            choices, _capped = console.options(session, facts.line, now=now)
        drawer = stores.open_drawer_of(session, member.id)
        shown = stores.held_quote(session, quote_id, msisdn=number) if quote_id else None
        esim_profile = esim.of_line(session, facts.line.id)
    chosen = form.get("offer") or (recommendation.best.offer.id if recommendation and recommendation.best else "")
    return render(request, "counter/line.html", status=status, error=error, member=member, store=store, facts=facts,
                  line=facts.line, operator=facts.operator, checked=checked, recommendation=recommendation,
                  until=until or "", until_error=until_error, keep_plans=keep_plans, choices=choices, chosen=chosen, drawer=drawer,
                  method=form.get("method") or CASH, terminal_ref=form.get("terminal_ref", ""),
                  code=form.get("code", ""), quote=shown,
                  quote_live=bool(shown and shown.state == "open" and now < shown.expires_at),
                  quote_offer=next((o.offer for o in choices if shown and o.offer.id == shown.offer_id), None),
                  document=form.get("document_type", ""), country=form.get("issuing_country", ""),
                  countries=console.country_names(locale), documents=ID_DOCUMENTS, done=done,
                  minutes=console.ID_CHECK_MINUTES, key=secrets.token_urlsafe(24), tz=store.timezone,
                  vouchers=bool(settings.voucher_pepper and settings.voucher_seal_key),
                  path=f"/counter/lines/{quote(number)}", today=console.store_day(store, now).isoformat(),
                  until_text=formats.day(recommendation.until, locale) if recommendation else "",
                  esim_profile=esim_profile)


@router.post("/lines/{msisdn}/id-check", response_class=HTMLResponse)
def id_check(request: Request, db: Db, settings: Config, lang: Lang, member: Agent, msisdn: Msisdn,
             document_type: Annotated[str, Form(max_length=40)] = "",
             issuing_country: Annotated[str, Form(max_length=8)] = "",
             last4: Annotated[str, Form(max_length=64)] = "", _csrf: None = Csrf) -> Response:
    """Record the ID check. What was typed as the last four is never written back into the page."""
    number = lookup_msisdn(msisdn, settings.default_region)
    now = clock.now()

    def work(session: Session) -> None:
        line = console.look_up(session, msisdn=number, region=settings.default_region).line
        console.record_id_check(session, store_id=_store(session, member).id, line=line, document_type=document_type,
                                issuing_country=issuing_country, last4=last4, checked_by=member.actor, now=now)

    try:
        db.write(work)
    except SimkeepError as exc:
        if isinstance(exc, StaffPageError):
            raise
        return _line_page(request, db, settings, member, number, status=exc.status, error=error_text(lang, exc.code),
                          form={"document_type": document_type, "issuing_country": issuing_country})
    return redirect(f"/counter/lines/{quote(number)}?done=id")


@router.post("/lines/{msisdn}/sale", response_class=HTMLResponse)
def sale(request: Request, db: Db, settings: Config, lang: Lang, member: Agent, msisdn: Msisdn,
         offer: Annotated[str, Form(max_length=80)] = "", method: Annotated[str, Form(max_length=10)] = "",
         terminal_ref: Annotated[str, Form(max_length=64)] = "", pin: Annotated[str, Form(max_length=64)] = "",
         key: Annotated[str, Form(max_length=64)] = "", code: Annotated[str, Form(max_length=32)] = "",
         quote_id: Annotated[str, Form(alias="quote", max_length=36)] = "", _csrf: None = Csrf) -> Response:
    """Cash or card without a quote: the price is quoted and shown first (nothing is taken). With the quote the
    agent showed: exactly that price is taken. If it has expired (or its promotion ran out), a new quote is shown
    with what changed, and nothing is taken. A recharge card sells at its face value (the voucher flow prices it)."""
    number = lookup_msisdn(msisdn, settings.default_region)
    typed = {"offer": offer, "method": method, "terminal_ref": terminal_ref[:64], "code": code.strip()[:32]}

    def again(status: int, code: str, shown: str | None = None) -> Response:
        return _line_page(request, db, settings, member, number, status=status, error=_text(lang, code),
                          form=typed, quote_id=shown)

    if method not in METHODS:
        return again(422, "store_method_invalid")
    if method != VOUCHER and not offer:
        return again(422, "store_offer_required")
    seller = _seller(member)
    now = clock.now()
    if method != VOUCHER and not quote_id:
        return _quote_then_show(request, db, settings, member, number, seller, typed, lang, now)
    form_key = key if KEY.match(key) else secrets.token_urlsafe(24)
    commission = Commission(percent=settings.store_commission_percent, per_offer=settings.store_commission_per_offer)

    def work(session: Session) -> stores.SaleOutcome:
        line = console.require_id_check(session, store_id=seller.store_id, msisdn=number, now=now,
                                        region=settings.default_region)
        return stores.sell(session, seller=seller, msisdn=number, offer_id=offer or None, method=method,
                           idempotency_key=f"counter:{form_key}", commission=commission,
                           receipt_url=lambda receipt_id: _receipt_url(settings, receipt_id), language=line.language,
                           now=now, region=settings.default_region, terminal_ref=terminal_ref if method == CARD else None,
                           pin=pin if method == VOUCHER else None,
                           voucher_keys=pins.keys(settings) if method == VOUCHER else None,
                           failures_allowed=settings.voucher_failures_per_number,
                           failure_hours=settings.voucher_failure_hours,
                           quote_id=quote_id if method != VOUCHER else None)

    try:
        done = db.write(work).outcome()
    except SimkeepError as exc:
        if isinstance(exc, StaffPageError):
            raise
        if exc.code in REQUOTE:
            return _quote_then_show(request, db, settings, member, number, seller, typed, lang, now, exc=exc)
        return again(exc.status, exc.code, shown=quote_id or None)
    return redirect(f"/counter/sales/{done.id}")


def _text(lang: str, code: str) -> str:
    return languages.gettext(lang, QUOTE_TEXTS[code]) if code in QUOTE_TEXTS else error_text(lang, code)


def _quote_then_show(request: Request, db: Database, settings: Settings, member: StaffMember, number: str,
                     seller: Seller, typed: dict, lang: str, now, *, exc: SimkeepError | None = None) -> Response:
    """Quote the chosen offer (and promo code) for the counter and show it: after a refused quote, with why and a
    409, so the agent sees the new price before any money is taken."""
    try:
        shown = db.write(lambda session: stores.quote(
            session, seller=seller, msisdn=number, offer_id=typed["offer"], now=now, region=settings.default_region,
            code=typed["code"] or None, minutes=settings.quote_minutes))
    except SimkeepError as refused:
        if isinstance(refused, StaffPageError):
            raise
        return _line_page(request, db, settings, member, number, status=refused.status,
                          error=_text(lang, refused.code), form=typed)
    if exc is None:
        return redirect(f"/counter/lines/{quote(number)}?quote={shown.id}#quote")
    return _line_page(request, db, settings, member, number, status=exc.status, error=_text(lang, exc.code),
                      form=typed, quote_id=str(shown.id))


# -- sales ----------------------------------------------------------------------------------------------------------

@router.get("/sales", response_class=HTMLResponse)
def sales(request: Request, db: Db, settings: Config, member: Agent, day: Annotated[str | None, Query(max_length=10)] = None) -> Response:
    """The store's sales of one day (today by default), voided ones included, with reprint links."""
    now = clock.now()
    status, error = 200, None
    with db.transaction(write=False) as session:
        store = _store(session, member)
        today = console.store_day(store, now)
        try:
            chosen = date.fromisoformat(day) if day else today
        except ValueError:
            chosen, status, error = today, 422, error_text(reader(request).language, "sales_day_invalid")
        found = console.sales_of(session, store_id=store.id, day=chosen)
    return render(request, "counter/sales.html", status=status, error=error, member=member, store=store, day=found,
                  tz=store.timezone, day_text=formats.day(chosen, reader(request).locale), previous=(chosen - timedelta(days=1)).isoformat(),
                  following=(chosen + timedelta(days=1)).isoformat() if chosen < today else None,
                  tokens={row.sale.id: receipts.token_for(settings.key("receipt"), row.receipt.id)
                          for row in found.sales})


@router.get("/sales/{sale_id}", response_class=HTMLResponse)
def sale_page(request: Request, db: Db, settings: Config, member: Agent, sale_id: SaleId,
              done: Annotated[str | None, Query(max_length=10)] = None) -> Response:
    return _sale_page(request, db, settings, member, sale_id, done=done)


def _sale_page(request: Request, db: Database, settings: Settings, member: StaffMember, sale_id: uuid.UUID, *,
               status: int = 200, error: str | None = None, done: str | None = None) -> Response:
    now = clock.now()
    window = timedelta(minutes=settings.store_void_minutes)
    with db.transaction(write=False) as session:
        store = _store(session, member)
        detail = console.sale_detail(session, sale_id=sale_id, store_id=store.id)
    token = receipts.token_for(settings.key("receipt"), detail.receipt.id)
    return render(request, "counter/sale.html", status=status, error=error, member=member, store=store,
                  detail=detail, sale=detail.sale, token=token, masked=masked(detail.sale.msisdn), done=done,
                  voidable=member.may("store.manage") and detail.voidable(now, window),
                  void_minutes=settings.store_void_minutes, tz=store.timezone)


@router.post("/sales/{sale_id}/void", response_class=HTMLResponse)
def void(request: Request, db: Db, settings: Config, lang: Lang, member: Manager, sale_id: SaleId,
         reason: Annotated[str, Form(max_length=200)] = "", _csrf: None = Csrf) -> Response:
    """A store manager voids a sale of their store within SIMKEEP_STORE_VOID_MINUTES, with a reason."""
    now = clock.now()
    window = timedelta(minutes=settings.store_void_minutes)
    try:
        if not reason.strip():
            raise InvalidInput()
        db.write(lambda session: stores.void(session, sale_id=sale_id, store_id=_store(session, member).id,
                                             by=member.actor, reason=reason, now=now, window=window))
    except SimkeepError as exc:
        if isinstance(exc, (StaffPageError, stores.OtherStore, stores.SaleNotFound)):
            raise
        code = "void_reason_required" if exc.code == "invalid_input" else exc.code
        return _sale_page(request, db, settings, member, sale_id, status=exc.status, error=error_text(lang, code))
    return redirect(f"/counter/sales/{sale_id}?done=voided")
