"""The counter's cash drawer pages, Z-reports and store statements.

- /counter/drawer: an agent's own drawer — open it with the counted float, see its running totals, close it: the
  counted cash first gives a confirmation page (expected vs counted, over/short), then the close is posted and the
  Z-report shown. /counter/drawers (store managers): the store's open drawers and the last closed ones; a manager
  may close any drawer of the store. /counter/drawers/{id}/z and z.pdf (80 mm roll): the Z-report (an X-report
  while open). An agent sees only their own drawers; everyone only their store's (another store's: 403).
- /counter/statement (store managers, their store) and /admin/stores/{code}/statement (admin, finance): the month's
  settlement with CSV and A4 PDF, and for finance a form to record a remittance (once per reference).

store.service, store.reports and store.settlement do the work; every form carries the CSRF token."""

from __future__ import annotations

import re
import uuid
from decimal import InvalidOperation
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from simkeep.admin.access import StaffMember, allowed
from simkeep.core import clock
from simkeep.core.errors import InvalidAmount, InvalidInput, SimkeepError
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.store import pdf as store_pdf
from simkeep.store import reports, settlement
from simkeep.store import service as stores
from simkeep.store.models import Drawer, Store
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Csrf, Lang, redirect, render

router = APIRouter(include_in_schema=False)
Console = Annotated[StaffMember, Depends(allowed("store.console"))]
Manager = Annotated[StaffMember, Depends(allowed("store.manage"))]
Finance = Annotated[StaffMember, Depends(allowed("stores.statements"))]
DrawerId = Annotated[uuid.UUID, Path()]
Code = Annotated[str, Path(max_length=32)]
Month = Annotated[str | None, Query(max_length=10, description="YYYY-MM, in the store's time zone")]
Notice = Annotated[str | None, Query(max_length=20)]
AmountField = Annotated[str, Form(max_length=30)]

AMOUNT = re.compile(r"^\d{1,9}([.,]\d{1,3})?$")
TEXTS = {
    "amount": N_("Write the amount counted as a number, for example 150.00."),
    "remittance_amount": N_("Write the amount as a number greater than zero, for example 250.00."),
    stores.DrawerAlreadyOpen.code: N_("Your cash drawer is already open."),
    stores.DrawerAlreadyClosed.code: N_("This cash drawer is already closed: nothing was posted again."),
    stores.DrawerNotFound.code: N_("There is no such cash drawer."),
    stores.OtherStore.code: N_("This belongs to another store."),
    stores.StoreNotFound.code: N_("There is no such store."),
    stores.StoreClosed.code: N_("This store has left the network and sells nothing."),
    "not_yours": N_("This is another agent's cash drawer. Ask your store manager."),
    "expected_changed": N_("A sale or a void changed the expected cash meanwhile: check the new figures and confirm "
                           "again."),
    settlement.MonthInvalid.code: N_("Write the month as YYYY-MM, between 2000 and 2099."),
    settlement.RemittanceRecorded.code: N_("A remittance with this reference is already recorded for this store: "
                                           "nothing moved this time."),
    settlement.RemittanceInvalid.code: N_("A remittance needs an amount greater than zero, a reference (80 "
                                          "characters at most) and a reason."),
}
DONE = {
    "opened": N_("Drawer opened. Cash sales now go into it."),
    "closed": N_("Drawer closed: here is its Z-report."),
    "remitted": N_("Remittance recorded: the store owes that much less."),
}
METHOD_NAMES = store_pdf.METHOD_NAMES


class NotYourDrawer(SimkeepError):
    code, status, message = "not_yours", 403, "This is another agent's cash drawer."


class ExpectedChanged(SimkeepError):
    code, status, message = "expected_changed", 409, "The expected cash changed meanwhile."


def _error(request: Request, lang: str, code: str, status: int) -> Response:
    return render(request, "portal/error.html", status=status, error=gettext(lang, TEXTS.get(code, code)))


def _amount(text: str, currency: str) -> Money | None:
    text = text.strip()
    if not AMOUNT.match(text):
        return None
    try:
        return Money.parse(text.replace(",", "."), currency)
    except (InvalidAmount, InvalidOperation):
        return None


def _store_of(session: Session, member: StaffMember) -> Store:
    if member.store_id is None:
        raise stores.OtherStore()
    return stores.get_store(session, member.store_id)


def _visible_drawer(session: Session, member: StaffMember, drawer_id: uuid.UUID) -> Drawer:
    """The drawer if this person may see and close it: their own, or any of their store's for a store manager."""
    drawer = reports.get_drawer(session, drawer_id, store_id=member.store_id)
    if drawer.agent_id != member.id and not member.may("store.manage"):
        raise NotYourDrawer()
    return drawer


def _common(member: StaffMember, store: Store) -> dict:
    return dict(staff=member.username, member=member, store=store, tz=store.timezone, method_names=METHOD_NAMES)


# -- my drawer ------------------------------------------------------------------------------------------------------

@router.get("/counter/drawer", response_class=HTMLResponse)
def my_drawer(request: Request, db: Db, lang: Lang, member: Console, done: Notice = None) -> Response:
    return _my_drawer(request, db, lang, member, done=done)


def _my_drawer(request: Request, db: Database, lang: str, member: StaffMember, *, done: str | None = None,
               status: int = 200, error: str | None = None, form: dict | None = None) -> Response:
    try:
        with db.transaction(write=False) as session:
            store = _store_of(session, member)
            drawer = stores.open_drawer_of(session, member.id)
            report = reports.z_report(session, drawer, now=clock.now()) if drawer else None
            recent = reports.recent_drawers(session, store.id, agent_id=member.id, limit=10)
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    return render(request, "counter/drawer.html", status=status, report=report, recent=recent, error=error,
                  done=gettext(lang, DONE[done]) if done in DONE else None, form=form or {},
                  **_common(member, store))


@router.post("/counter/drawer/open", response_class=HTMLResponse)
def open_my_drawer(request: Request, db: Db, lang: Lang, member: Console, float_amount: AmountField = "",
                   _csrf: None = Csrf) -> Response:
    try:
        with db.transaction(write=False) as session:
            store = _store_of(session, member)
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    amount = _amount(float_amount, store.currency)
    if amount is None:
        return _my_drawer(request, db, lang, member, status=422, error=gettext(lang, TEXTS["amount"]),
                          form={"float_amount": float_amount})
    seller = stores.Seller(agent_id=member.id, actor=member.actor, store_id=store.id)
    try:
        with db.transaction() as session:
            stores.open_drawer(session, seller=seller, float_minor=amount.minor, now=clock.now())
    except SimkeepError as exc:
        return _my_drawer(request, db, lang, member, status=exc.status, error=gettext(lang, TEXTS.get(
            exc.code, TEXTS["amount"])))
    return redirect("/counter/drawer?done=opened")


# -- closing: counted → confirm → posted ------------------------------------------------------------------------------

@router.post("/counter/drawers/{drawer_id}/close", response_class=HTMLResponse)
def confirm_close(request: Request, db: Db, lang: Lang, member: Console, drawer_id: DrawerId,
                  counted: AmountField = "", _csrf: None = Csrf) -> Response:
    """The counted cash against what the drawer should hold; nothing is posted yet."""
    return _confirmation(request, db, lang, member, drawer_id, counted)


def _confirmation(request: Request, db: Database, lang: str, member: StaffMember, drawer_id: uuid.UUID,
                  counted: str, *, status: int = 200, error: str | None = None) -> Response:
    try:
        with db.transaction(write=False) as session:
            drawer = _visible_drawer(session, member, drawer_id)
            if drawer.closed_at is not None:
                raise stores.DrawerAlreadyClosed()
            report = reports.z_report(session, drawer, now=clock.now())
            store = report.store
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    amount = _amount(counted, drawer.currency)
    if amount is None:
        return render(request, "counter/drawer_z.html", status=422, report=report, error=gettext(lang, TEXTS["amount"]),
                      may_close=True, counted=counted, **_common(member, store))
    return render(request, "counter/drawer_confirm.html", status=status, report=report, counted=amount.minor,
                  counted_text=counted.strip(), difference=amount.minor - report.expected_minor, error=error,
                  **_common(member, store))


@router.post("/counter/drawers/{drawer_id}/close/confirm", response_class=HTMLResponse)
def close(request: Request, db: Db, lang: Lang, member: Console, drawer_id: DrawerId, counted: AmountField = "",
          expected: Annotated[int, Form()] = -1, _csrf: None = Csrf) -> Response:
    """Post the close: the over/short goes to the ledger, once. If the expected cash moved since the confirmation
    page (a sale, a void), nothing is posted and the page shows the new figures."""
    try:
        with db.transaction() as session:
            drawer = _visible_drawer(session, member, drawer_id)
            amount = _amount(counted, drawer.currency)
            if amount is None:
                raise InvalidInput()
            closed = stores.close_drawer(session, drawer_id=drawer.id, store_id=drawer.store_id,
                                         counted_minor=amount.minor, by=member.actor, now=clock.now())
            if closed.expected_minor != expected:
                raise ExpectedChanged()  # rolls the close back
    except ExpectedChanged:
        return _confirmation(request, db, lang, member, drawer_id, counted, status=409,
                             error=gettext(lang, TEXTS["expected_changed"]))
    except InvalidInput:
        return _confirmation(request, db, lang, member, drawer_id, counted)
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    return redirect(f"/counter/drawers/{drawer_id}/z?done=closed")


# -- the store's drawers (managers), a Z-report ---------------------------------------------------------------------

@router.get("/counter/drawers", response_class=HTMLResponse)
def store_drawers(request: Request, db: Db, lang: Lang, member: Manager) -> Response:
    now = clock.now()
    try:
        with db.transaction(write=False) as session:
            store = _store_of(session, member)
            open_now = [reports.z_report(session, d, now=now) for d in reports.open_drawers(session, store.id)]
            recent = reports.recent_drawers(session, store.id, limit=30)
            names = reports.usernames(session, {d.agent_id for d in recent})
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    return render(request, "counter/drawers.html", open_now=open_now, recent=recent, names=names,
                  **_common(member, store))


@router.get("/counter/drawers/{drawer_id}/z", response_class=HTMLResponse)
def z_page(request: Request, db: Db, lang: Lang, member: Console, drawer_id: DrawerId,
           done: Notice = None) -> Response:
    try:
        with db.transaction(write=False) as session:
            report = reports.z_report(session, _visible_drawer(session, member, drawer_id), now=clock.now())
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    return render(request, "counter/drawer_z.html", report=report, may_close=report.is_open, counted="",
                  done=gettext(lang, DONE[done]) if done in DONE else None, **_common(member, report.store))


@router.get("/counter/drawers/{drawer_id}/z.pdf")
def z_pdf(request: Request, db: Db, lang: Lang, member: Console, drawer_id: DrawerId) -> Response:
    try:
        with db.transaction(write=False) as session:
            report = reports.z_report(session, _visible_drawer(session, member, drawer_id), now=clock.now())
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    return Response(store_pdf.z_report_pdf(report, language=lang, printed_at=clock.now()),
                    media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="z-{drawer_id}.pdf"'})


# -- statements -------------------------------------------------------------------------------------------------------

def _statement(db: Database, member: StaffMember, find, month: str | None) -> settlement.Settlement:
    with db.transaction(write=False) as session:
        store = find(session)
        today = clock.now().astimezone(ZoneInfo(store.timezone)).date()
        return settlement.settlement(session, store, month=settlement.parse_month(month, default=today))


def _statement_page(request: Request, db: Database, lang: str, member: StaffMember, find, month: str | None, *,
                    template: str, path: str, done: str | None = None, status: int = 200, error: str | None = None,
                    form: dict | None = None) -> Response:
    try:
        found = _statement(db, member, find, month)
    except settlement.MonthInvalid:
        found, status, error = _statement(db, member, find, None), 422, gettext(lang, TEXTS["month_invalid"])
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    return render(request, template, status=status, statement=found, statement_path=path, error=error,
                  form=form or {}, done=gettext(lang, DONE[done]) if done in DONE else None,
                  **_common(member, found.store))


def _download(request: Request, db: Database, lang: str, member: StaffMember, find, month: str | None,
              kind: str) -> Response:
    try:
        found = _statement(db, member, find, month)
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    if kind == "csv":
        content, media = settlement.csv_bytes(found), "text/csv; charset=utf-8"
    else:
        content, media = store_pdf.statement_pdf(found, language=lang, printed_at=clock.now()), "application/pdf"
    return Response(content, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{settlement.file_name(found, kind)}"'})


def _own_store(member: StaffMember):
    return lambda session: _store_of(session, member)


def _by_code(code: str):
    return lambda session: settlement.store_by_code(session, code)


@router.get("/counter/statement", response_class=HTMLResponse)
def counter_statement(request: Request, db: Db, lang: Lang, member: Manager, month: Month = None) -> Response:
    return _statement_page(request, db, lang, member, _own_store(member), month, template="counter/statement.html",
                           path="/counter/statement")


@router.get("/counter/statement.csv")
def counter_statement_csv(request: Request, db: Db, lang: Lang, member: Manager, month: Month = None) -> Response:
    return _download(request, db, lang, member, _own_store(member), month, "csv")


@router.get("/counter/statement.pdf")
def counter_statement_pdf(request: Request, db: Db, lang: Lang, member: Manager, month: Month = None) -> Response:
    return _download(request, db, lang, member, _own_store(member), month, "pdf")


@router.get("/admin/stores/{code}/statement", response_class=HTMLResponse)
def admin_statement(request: Request, db: Db, lang: Lang, member: Finance, code: Code, month: Month = None,
                    done: Notice = None) -> Response:
    return _statement_page(request, db, lang, member, _by_code(code), month, template="admin/store_statement.html",
                           path=f"/admin/stores/{code}/statement", done=done)


@router.get("/admin/stores/{code}/statement.csv")
def admin_statement_csv(request: Request, db: Db, lang: Lang, member: Finance, code: Code,
                        month: Month = None) -> Response:
    return _download(request, db, lang, member, _by_code(code), month, "csv")


@router.get("/admin/stores/{code}/statement.pdf")
def admin_statement_pdf(request: Request, db: Db, lang: Lang, member: Finance, code: Code,
                        month: Month = None) -> Response:
    return _download(request, db, lang, member, _by_code(code), month, "pdf")


@router.post("/admin/stores/{code}/remittances", response_class=HTMLResponse)
def remit(request: Request, db: Db, lang: Lang, member: Finance, code: Code, amount: AmountField = "",
          reference: Annotated[str, Form(max_length=200)] = "", reason: Annotated[str, Form(max_length=500)] = "",
          month: Annotated[str, Form(max_length=10)] = "", _csrf: None = Csrf) -> Response:
    form = {"amount": amount, "reference": reference, "reason": reason}

    def again(status: int, error: str) -> Response:
        return _statement_page(request, db, lang, member, _by_code(code), month or None, status=status,
                               error=error, template="admin/store_statement.html",
                               path=f"/admin/stores/{code}/statement", form=form)

    try:
        with db.transaction(write=False) as session:
            currency = settlement.store_by_code(session, code).currency
        money = _amount(amount, currency)
        if money is None or money.minor <= 0:
            return again(422, gettext(lang, TEXTS["remittance_amount"]))
        with db.transaction() as session:
            store = settlement.store_by_code(session, code)
            settlement.record_remittance(session, store=store, amount=money, reference=reference,
                                         actor=member.actor, reason=reason, now=clock.now())
            code = store.code
    except (settlement.RemittanceRecorded, settlement.RemittanceInvalid) as exc:
        return again(exc.status, gettext(lang, TEXTS[exc.code]))
    except SimkeepError as exc:
        return _error(request, lang, exc.code, exc.status)
    suffix = f"&month={month}" if settlement.MONTH.match(month or "") else ""
    return redirect(f"/admin/stores/{code}/statement?done=remitted{suffix}")
