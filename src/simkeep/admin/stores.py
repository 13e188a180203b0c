"""Back-office pages for the store directory (admin: `stores.manage`): the list with a search, a new store, a
store's page to edit everything the finder shows (hours per weekday, closed days, languages, services, operators)
and to close it (it leaves the finder and sells nothing; its history stays). Each change goes to the audit log
with who and why. store.directory checks and does the work; every form carries the CSRF token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from simkeep.admin.access import StaffMember, allowed
from simkeep.audit import service as audit
from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.errors import InvalidInput
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.store import directory
from simkeep.store.directory import CONTROL, StoreAlreadyClosed, StoreExists, StoreInvalid, StoreUnknown
from simkeep.store.models import SERVICES, WEEKDAYS, Store
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Csrf, Lang, reader_zone, redirect, render

router = APIRouter(prefix="/admin/stores", include_in_schema=False)
Manager = Annotated[StaffMember, Depends(allowed("stores.manage"))]
Code = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]
Search = Annotated[str | None, Query(max_length=80)]
Notice = Annotated[str | None, Query(max_length=20)]
FIELDS = ("code", "name", "address", "postcode", "city", "country", "latitude", "longitude", "phone", "timezone",
          *WEEKDAYS, "closed_on", "languages", "demo", "reason")
TEXTS = {
    "code": N_("A store code has 2 to 32 characters: capital letters, digits, - or _ (for example PAR-BELLEVILLE)."),
    "name": N_("Give the store's name (120 characters at most)."),
    "address": N_("Give the street address (200 characters at most)."),
    "postcode": N_("Give the postcode (16 characters at most)."),
    "city": N_("Give the city (80 characters at most)."),
    "country": N_("The country is a two-letter code, for example FR."),
    "latitude": N_("The latitude is a number from -90 to 90, for example 48.8722."),
    "longitude": N_("The longitude is a number from -180 to 180, for example 2.3766."),
    "timezone": N_("Choose a time zone such as Europe/Paris."),
    "phone": N_("Write the phone number in international form, for example +33143580000."),
    "hours": N_("Write each day's hours as spans like 09:00-12:30 14:00-19:00 (a span ending before it starts runs "
                "past midnight), without overlaps; leave the day empty when the store is closed."),
    "closed_on": N_("Write closed days as dates like 2026-12-25, separated by spaces."),
    "languages": N_("Write languages as codes such as zh_CN fr en, separated by spaces."),
    "services": N_("Choose among the services offered."),
    "operators": N_("Choose operators from the catalog."),
    "currency": N_("The currency is a three-letter code, for example EUR."),
    "reason": N_("Give a reason: it is kept in the audit log."),
    "store_exists": N_("A store with this code exists already."),
    "store_not_found": N_("No store with this code."),
    "store_closed": N_("This store is closed already."),
}
DONE = {
    "created": N_("Store created: the finder shows it now."),
    "saved": N_("Changes saved."),
    "closed": N_("Store closed: the finder no longer shows it and it sells nothing; its history stays."),
}
SERVICE_NAMES = {"renewal": N_("Renewals"), "sim_sale": N_("SIM card sales"), "voucher_sale": N_("Recharge card sales")}


# -- the list -------------------------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def store_list(request: Request, db: Db, member: Manager, q: Search = None) -> Response:
    with db.transaction(write=False) as session:
        found = directory.list_stores(session, search=q)
    return render(request, "admin/stores.html", stores=found, q=q or "", staff=member.username)


# -- a new store ----------------------------------------------------------------------------------------------------

@router.get("/new", response_class=HTMLResponse)
def new_store(request: Request, db: Db, member: Manager) -> Response:
    return _form(request, db, member, store=None, form={"country": "FR", "timezone": "Europe/Paris",
                                                        "services": ["renewal"]})


@router.post("/new", response_class=HTMLResponse)
async def create(request: Request, db: Db, lang: Lang, member: Manager, _csrf: None = Csrf) -> Response:
    form = _read(await request.form())
    fields = directory.fields_from(form)
    try:
        store = db.write(lambda s: directory.create_store(s, fields=fields, actor=member.actor,
                                                          reason=form["reason"], now=clock.now()))
    except (StoreInvalid, StoreExists, InvalidInput) as exc:
        return _form(request, db, member, store=None, form=form, status=_status(exc), errors=_errors(lang, exc))
    return redirect(f"/admin/stores/{store.code}?done=created")


# -- one store ------------------------------------------------------------------------------------------------------

@router.get("/{code}", response_class=HTMLResponse)
def store_page(request: Request, db: Db, lang: Lang, member: Manager, code: Code, done: Notice = None) -> Response:
    store = db.read(lambda s: directory.find(s, code))
    if store is None:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["store_not_found"]))
    return _form(request, db, member, store=store, form=_form_of(store),
                 done=gettext(lang, DONE[done]) if done in DONE else None)


@router.post("/{code}", response_class=HTMLResponse)
async def save(request: Request, db: Db, lang: Lang, member: Manager, code: Code, _csrf: None = Csrf) -> Response:
    form = _read(await request.form())
    store = db.read(lambda s: directory.find(s, code))
    if store is None:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["store_not_found"]))
    fields = directory.fields_from({**form, "code": store.code, "currency": store.currency})
    try:
        db.write(lambda s: directory.update_store(s, code=store.code, fields=fields, actor=member.actor,
                                                  reason=form["reason"], now=clock.now()))
    except (StoreInvalid, InvalidInput) as exc:
        return _form(request, db, member, store=store, form=form, status=422, errors=_errors(lang, exc))
    return redirect(f"/admin/stores/{store.code}?done=saved")


@router.post("/{code}/close", response_class=HTMLResponse)
async def close(request: Request, db: Db, lang: Lang, member: Manager, code: Code, _csrf: None = Csrf) -> Response:
    reason = _text((await request.form()).get("close_reason"))[:500].strip()
    store = db.read(lambda s: directory.find(s, code))
    if store is None:
        return render(request, "portal/error.html", status=404, error=gettext(lang, TEXTS["store_not_found"]))
    if not reason:
        return _form(request, db, member, store=store, form=_form_of(store), status=422,
                     errors=[gettext(lang, TEXTS["reason"])])
    try:
        db.write(lambda s: directory.close_store(s, code=store.code, actor=member.actor, reason=reason,
                                                 now=clock.now()))
    except (StoreAlreadyClosed, StoreUnknown) as exc:
        return _form(request, db, member, store=store, form=_form_of(store), status=409, errors=_errors(lang, exc))
    return redirect(f"/admin/stores/{store.code}?done=closed")


# -- helpers --------------------------------------------------------------------------------------------------------

def _read(data: FormData) -> dict:
    """The form as the import reads a row: text fields (bounded), lists from the checkboxes."""
    form: dict[str, Any] = {name: _text(data.get(name))[:500] for name in FIELDS}
    form["services"] = [_text(v)[:20] for v in data.getlist("services")][:10]
    form["operators"] = [_text(v)[:64] for v in data.getlist("operators")][:50]
    form["demo"] = "yes" if data.get("demo") else ""
    return form


def _text(value) -> str:
    """A form value as text without control characters (an upload or a NUL is nothing a store field holds)."""
    return CONTROL.sub("", value) if isinstance(value, str) else ""


def _form_of(store: Store) -> dict:
    return {"code": store.code, "name": store.name, "address": store.address, "postcode": store.postcode,
            "city": store.city, "country": store.country, "latitude": repr(store.latitude),
            "longitude": repr(store.longitude), "phone": store.phone or "", "timezone": store.timezone,
            **{day: " ".join(f"{a}-{b}" for a, b in store.hours.get(day, [])) for day in WEEKDAYS},
            "closed_on": " ".join(store.closed_on), "languages": " ".join(store.languages),
            "services": list(store.services), "operators": list(store.operators), "demo": store.demo, "reason": ""}


def _status(exc: Exception) -> int:
    return 409 if isinstance(exc, StoreExists) else 422


def _errors(lang: str, exc: Exception) -> list[str]:
    if isinstance(exc, StoreInvalid):
        return list(dict.fromkeys(gettext(lang, TEXTS[name]) for name, _ in exc.problems))
    code = getattr(exc, "code", "")
    return [gettext(lang, TEXTS.get(code, TEXTS["reason"]))]


def _form(request: Request, db: Database, member: StaffMember, *, store: Store | None, form: dict,
          status: int = 200, errors: list[str] | None = None, done: str | None = None) -> Response:
    with db.transaction(write=False) as session:
        operators = [op for op, _ in catalog.list_operators(session)]
        history = audit.for_subject(session, "store", store.code) if store else []
    return render(request, "admin/store.html", status=status, store=store, form=form, errors=errors or [],
                  done=done, operators=operators, services=SERVICES, service_names=SERVICE_NAMES,
                  weekdays=WEEKDAYS, history=history, staff=member.username, tz=reader_zone(request))
