"""Back-office pages for promotion campaigns (admin and finance: `promotions.manage`): the list with each campaign's
state, window, uses and budget, and cost; a form for a new campaign (its window in the operator's local time); and
each campaign's page — start, pause and resume with a reason (audited), who is eligible now, and its report.

promotion.service creates campaigns and changes their state; promotion.reports makes the preview and the report."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import StaffMember, allowed
from simkeep.core import clock
from simkeep.core.errors import InvalidAmount, InvalidInput, PromoCodeTaken, PromotionNotFound
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.ledger.service import CHANNELS
from simkeep.line.models import RENEWABLE
from simkeep.locale.languages import LANGUAGES, gettext
from simkeep.promotion import reports
from simkeep.promotion import service as promotions
from simkeep.promotion.models import AMOUNT_OFF, BENEFITS, BONUS_CREDIT
from simkeep.promotion.service import TRANSITIONS, CampaignSpec
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Csrf, Lang, reader_zone, redirect, render

router = APIRouter(prefix="/admin/promotions", include_in_schema=False)
Manager = Annotated[StaffMember, Depends(allowed("promotions.manage"))]
Id = Annotated[str, Path(max_length=40)]
Notice = Annotated[str | None, Query(max_length=20)]
Text = Annotated[str, Form(max_length=200)]
Many = Annotated[list[str], Form(max_length=100)]

WHOLE = re.compile(r"^\d{1,9}$")
AMOUNT = re.compile(r"^\d{1,9}([.,]\d{1,3})?$")
BENEFIT_NAMES = {
    "percent_off": N_("Percentage off the price"),
    "amount_off": N_("Fixed amount off the price"),
    "bonus_credit": N_("Bonus credit"),
    "bonus_days": N_("Bonus validity days"),
    "cashback_percent": N_("Cashback (percentage of the price, paid later as bonus credit)"),
}
STATE_NAMES = {"draft": N_("Draft"), "active": N_("Running"), "paused": N_("Paused"), "ended": N_("Ended")}
TEXTS = {
    "name": N_("Give the campaign a name (120 characters at most)."),
    "benefit": N_("Choose what the campaign gives."),
    "benefit_value": N_("The benefit is a percentage from 1 to 100, an amount above zero or 1 to 365 days."),
    "currency": N_("Choose the currency: an amount off, bonus credit or a money budget needs one."),
    "starts_at": N_("Give the start as a date and time, for example 2027-03-01 00:00."),
    "ends_at": N_("The end must be a date and time after the start."),
    "timezone": N_("This time zone is not known; write it like Europe/Paris."),
    "code": N_("A promo code has 3 to 32 letters, digits or - (for example SPRING-20)."),
    "code_taken": N_("Another campaign has this promo code already."),
    "operator_id": N_("Choose an operator from the list, or any."),
    "offer_ids": N_("Choose offers from the list."),
    "channels": N_("Choose channels from the list."),
    "line_states": N_("Choose line states from the list."),
    "languages": N_("Choose languages from the list."),
    "per_line_limit": N_("The limit per line is a whole number, at least 1."),
    "max_uses": N_("The number of uses is a whole number, at least 1."),
    "budget_minor": N_("Write the money budget as an amount above zero, for example 500.00."),
    "reason": N_("Give a reason: it is kept in the audit log."),
    "state": N_("This campaign cannot do that in its state now."),
    "not_found": N_("No campaign with this id."),
}
DONE = {
    "created": N_("Campaign created as a draft: check who is eligible, then start it."),
    "start": N_("Campaign started: it applies to renewals from its start time."),
    "pause": N_("Campaign paused: no new renewal gets it. Payments already under way keep their price."),
    "resume": N_("Campaign resumed."),
}
CHANNEL_NAMES = {"portal": N_("Web portal"), "voucher": N_("Recharge card"), "agent": N_("Store counter"),
                 "ivr": N_("Voice menu"), "sms": N_("SMS"), "api": N_("API"), "auto_renew": N_("Auto-renew"),
                 "reseller": N_("Reseller")}
LANGUAGE_NAMES = {"zh_CN": "简体中文", "fr": "Français", "en": "English"}


# -- the list -----------------------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def promotion_list(request: Request, db: Db, member: Manager) -> Response:
    with db.transaction(write=False) as session:
        found = reports.listing(session, now=clock.now())
    return render(request, "admin/promotions.html", promotions=found, staff=member.username,
                  tz=reader_zone(request), state_names=STATE_NAMES, benefit_names=BENEFIT_NAMES)


# -- a new campaign -------------------------------------------------------------------------------------------------

@router.get("/new", response_class=HTMLResponse)
def new_form(request: Request, db: Db, member: Manager) -> Response:
    return _form_page(request, db, member, form={"benefit": "percent_off", "timezone": "Europe/Paris",
                                                  "currency": "EUR"})


def _form_page(request: Request, db: Database, member: StaffMember, *, form: dict, status: int = 200,
               error: str | None = None) -> Response:
    operators, offers = db.read(reports.choices)
    currencies = sorted({o[3] for o in operators})
    return render(request, "admin/promotion_new.html", status=status, staff=member.username, error=error, form=form,
                  operators=operators, offers=offers, currencies=currencies, benefits=BENEFITS,
                  benefit_names=BENEFIT_NAMES, channels=CHANNELS, channel_names=CHANNEL_NAMES, states=RENEWABLE,
                  languages=LANGUAGES, language_names=LANGUAGE_NAMES)


@router.post("/new", response_class=HTMLResponse)
def create(request: Request, db: Db, lang: Lang, member: Manager, name: Text = "", code: Text = "",
           benefit: Text = "", benefit_value: Text = "", currency: Text = "", starts: Text = "", ends: Text = "",
           timezone: Text = "", operator_id: Text = "", offer_ids: Many = [], channels: Many = [],  # noqa: B006
           line_states: Many = [], languages: Many = [], first_renewal_only: Text = "",  # noqa: B006
           per_line_limit: Text = "", stackable: Text = "", max_uses: Text = "", budget: Text = "",
           reason: Annotated[str, Form(max_length=500)] = "", _csrf: None = Csrf) -> Response:
    form = dict(name=name, code=code, benefit=benefit, benefit_value=benefit_value, currency=currency, starts=starts,
                ends=ends, timezone=timezone, operator_id=operator_id, offer_ids=offer_ids, channels=channels,
                line_states=line_states, languages=languages, first_renewal_only=bool(first_renewal_only),
                per_line_limit=per_line_limit, stackable=bool(stackable), max_uses=max_uses, budget=budget,
                reason=reason)
    operators, offers = db.read(reports.choices)
    try:
        spec = spec_of(form, operator_ids={o[0] for o in operators}, offer_ids=set(offers))
        if not reason.strip():
            raise FieldError("reason")
        with db.transaction() as session:
            promotion = promotions.create(session, spec, actor=member.actor, reason=reason.strip(), now=clock.now())
    except FieldError as exc:
        return _form_page(request, db, member, form=form, status=422, error=gettext(lang, TEXTS[exc.field]))
    except InvalidInput as exc:
        field = exc.message.split(":", 1)[0]
        return _form_page(request, db, member, form=form, status=422,
                          error=gettext(lang, TEXTS.get(field, TEXTS["benefit_value"])))
    except PromoCodeTaken:
        return _form_page(request, db, member, form=form, status=409, error=gettext(lang, TEXTS["code_taken"]))
    return redirect(f"/admin/promotions/{promotion.id}?done=created")


class FieldError(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def spec_of(form: dict, *, operator_ids: set[str], offer_ids: set[str]) -> CampaignSpec:
    """The campaign the form describes (the window read in `timezone`), or FieldError naming the first field
    that is wrong. The service checks the rest (promotion.service._checked_spec)."""
    zone = form["timezone"].strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError("timezone") from None
    if form["benefit"] not in BENEFITS:
        raise FieldError("benefit")
    currency = form["currency"].strip().upper() or None
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        raise FieldError("currency")
    if form["benefit"] in (AMOUNT_OFF, BONUS_CREDIT):
        if currency is None:
            raise FieldError("currency")
        value = _money(form["benefit_value"], currency, "benefit_value")
    elif not WHOLE.match(form["benefit_value"].strip()):
        raise FieldError("benefit_value")
    else:
        value = int(form["benefit_value"].strip())
    budget = None
    if form["budget"].strip():
        if currency is None:
            raise FieldError("currency")
        budget = _money(form["budget"], currency, "budget_minor")
    if form["operator_id"] and form["operator_id"] not in operator_ids:
        raise FieldError("operator_id")
    if not set(form["offer_ids"]) <= offer_ids:
        raise FieldError("offer_ids")
    return CampaignSpec(
        name=form["name"].strip(), benefit=form["benefit"], benefit_value=value,
        starts_at=_local(form["starts"], "starts_at"), ends_at=_local(form["ends"], "ends_at"), timezone=zone,
        code=form["code"].strip() or None, operator_id=form["operator_id"] or None,
        offer_ids=list(form["offer_ids"]) or None, channels=list(form["channels"]) or None,
        line_states=list(form["line_states"]) or None, languages=list(form["languages"]) or None,
        first_renewal_only=form["first_renewal_only"], per_line_limit=_count(form["per_line_limit"], "per_line_limit"),
        currency=currency, stackable=form["stackable"], max_uses=_count(form["max_uses"], "max_uses"),
        budget_minor=budget)


def _local(text: str, field: str) -> datetime:
    """A naive local date and time (`2027-03-01T00:00` from the browser, or with a space)."""
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise FieldError(field) from None
    if value.tzinfo is not None:
        raise FieldError(field)
    return value


def _count(text: str, field: str) -> int | None:
    if not text.strip():
        return None
    if not WHOLE.match(text.strip()) or int(text) < 1:
        raise FieldError(field)
    return int(text)


def _money(text: str, currency: str, field: str) -> int:
    if not AMOUNT.match(text.strip()):
        raise FieldError(field)
    try:
        minor = Money.parse(Decimal(text.strip().replace(",", ".")), currency).minor
    except (InvalidAmount, InvalidOperation):
        raise FieldError(field) from None
    if minor <= 0:
        raise FieldError(field)
    return minor


# -- one campaign ---------------------------------------------------------------------------------------------------

@router.get("/{promotion_id}", response_class=HTMLResponse)
def promotion_page(request: Request, db: Db, lang: Lang, member: Manager, promotion_id: Id,
                   done: Notice = None) -> Response:
    return _page(request, db, lang, member, promotion_id, done=done)


def _page(request: Request, db: Database, lang: str, member: StaffMember, promotion_id: str, *,
          done: str | None = None, status: int = 200, error: str | None = None) -> Response:
    now = clock.now()
    try:
        with db.transaction(write=False) as session:
            promotion = promotions.get(session, promotion_id)
            preview = reports.preview(session, promotion, now=now)
            report = reports.report(session, promotion)
    except PromotionNotFound:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["not_found"]))
    actions = [action for action, (before, _) in TRANSITIONS.items() if before == promotion.state]
    return render(request, "admin/promotion.html", status=status, staff=member.username, tz=reader_zone(request),
                  p=promotion, preview=preview, report=report, actions=actions, error=error,
                  done=gettext(lang, DONE[done]) if done in DONE else None, ended=promotion.ends_at <= now,
                  live=promotion.state == "active" and promotion.starts_at <= now < promotion.ends_at,
                  state_names=STATE_NAMES, benefit_names=BENEFIT_NAMES, channel_names=CHANNEL_NAMES,
                  language_names=LANGUAGE_NAMES)


@router.post("/{promotion_id}/state", response_class=HTMLResponse)
def change_state(request: Request, db: Db, lang: Lang, member: Manager, promotion_id: Id,
                 action: Annotated[str, Form(max_length=10)] = "", reason: Annotated[str, Form(max_length=500)] = "",
                 _csrf: None = Csrf) -> Response:
    if not reason.strip():
        return _page(request, db, lang, member, promotion_id, status=422, error=gettext(lang, TEXTS["reason"]))
    if action not in TRANSITIONS:
        return _page(request, db, lang, member, promotion_id, status=422, error=gettext(lang, TEXTS["state"]))
    try:
        with db.transaction() as session:
            promotions.change_state(session, promotion_id, action, actor=member.actor, reason=reason.strip(),
                                    now=clock.now())
    except PromotionNotFound:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["not_found"]))
    except InvalidInput:
        return _page(request, db, lang, member, promotion_id, status=409, error=gettext(lang, TEXTS["state"]))
    return redirect(f"/admin/promotions/{promotion_id}?done={action}")
