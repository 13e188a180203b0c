"""A line as the back office sees it: found from whatever the customer quotes (/admin/lines?q=), then one page with its
state, validity, balance, SIM card and everything that happened to it in order (history.timeline), and what staff
may do from there by role: a note, a confirmation sent again, reminders paused or resumed (lines.act), a refund
(review.refund, through payment.flow). Review items, reconciliation lists and the network pages link here."""

from __future__ import annotations

import secrets
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin import network
from simkeep.admin.access import StaffMember, allowed
from simkeep.core import clock
from simkeep.core.errors import InvalidAmount, LineNotFound, SimkeepError
from simkeep.core.money import Money
from simkeep.core.phone import lookup_msisdn, masked
from simkeep.history import actions, timeline
from simkeep.history import search as finder
from simkeep.line import service as lines
from simkeep.line.models import NOTE_MAX_CHARS, RENEWABLE, Line
from simkeep.locale.languages import gettext
from simkeep.network import esim
from simkeep.network import service as netstate
from simkeep.payment import flow
from simkeep.payment import service as payments
from simkeep.payment.models import SUCCEEDED
from simkeep.store import console as store_console
from simkeep.topup import service as topups
from simkeep.voice import service as calls
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Csrf, Lang, error_text, reader_zone, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)
Notice = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")]
Reader = Annotated[StaffMember, Depends(allowed("lines.read"))]
Actor = Annotated[StaffMember, Depends(allowed("lines.act"))]
Refunder = Annotated[StaffMember, Depends(allowed("review.refund"))]
Reason = Annotated[str, Form(max_length=500)]
FormKey = Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]

KIND_NAMES = {
    timeline.TOPUP: N_("Top-ups"), timeline.VOUCHER: N_("Recharge cards"), timeline.PAYMENT: N_("Payments"),
    timeline.REFUND: N_("Refunds"), timeline.CHARGE: N_("Charges"), timeline.STATE: N_("State changes"),
    timeline.MESSAGE: N_("Messages"), timeline.SMS_COMMAND: N_("SMS commands"), timeline.USSD: N_("USSD"),
    timeline.CALL: N_("Calls"), timeline.ID_CHECK: N_("ID checks"), timeline.PROVISIONING: N_("Network"),
    timeline.STAFF_ACTION: N_("Staff actions"), timeline.NOTE: N_("Notes"),
}
KEY_NAMES = {
    finder.NUMBER: N_("phone number"), finder.EMAIL: N_("e-mail"), finder.RECEIPT: N_("receipt number"),
    finder.PAYMENT_REF: N_("payment reference"), finder.VOUCHER_SERIAL: N_("recharge card serial"),
    finder.ID: N_("top-up or line id"),
}
TEXTS = {
    "line_note_invalid": N_("Write a note of 1 to 2000 characters."),
    "reminder_pause_invalid": N_("Reminders can be paused until a later date, on a line that still gets them; "
                                 "resume only paused reminders."),
    "reason_required": N_("Give a reason: it is kept in the audit log."),
    "confirmation_not_found": N_("This line has no confirmation for that top-up."),
    "resend_channel_invalid": N_("Choose SMS and/or e-mail; e-mail only when the line has an address."),
    "refund_not_allowed": N_("Only a paid top-up of this line can be refunded, up to the amount paid."),
    "refund_exceeds_balance": N_("This refund would take the line's balance below zero: the credit has been used."),
    "invalid_amount": N_("Write the amount to refund, for example 5.00."),
    "timeline_cursor_invalid": N_("This timeline link is not valid: start again from the newest item."),
    "refund_refused": N_("The payment service refused the refund; the credit is back on the line."),
}
DONE = {
    "note": N_("Note added."), "resent": N_("Confirmation queued again."), "paused": N_("Reminders paused."),
    "resumed": N_("Reminders resumed."), "refunded": N_("Refund done."),
    "refund_pending": N_("Refund asked; the payment service has not answered yet."),
}


def text(lang: str, code: str) -> str:
    message = TEXTS.get(code)
    return gettext(lang, message) if message else error_text(lang, code)


# -- finding a line ---------------------------------------------------------------------------------------------------

@router.get("/lines", response_class=HTMLResponse)
def search_page(request: Request, db: Db, settings: Config, lang: Lang, member: Reader,
                q: Annotated[str, Query(max_length=finder.MAX_QUERY)] = "") -> Response:
    """One box: a number in any format, an e-mail, a receipt number, a payment reference, a card serial, a top-up
    id. One line found: its timeline; several (a recycled number, a shared e-mail): the list; none: what was tried."""
    if not q.strip():
        return render(request, "admin/lines_search.html", staff=member.username, query="", result=None)
    with db.transaction(write=False) as session:
        result = finder.search(session, q, region=settings.default_region)
        operators = {f.line.operator_id for f in result.found}
    if result.only is not None:
        return redirect(f"/admin/lines/id/{result.only.id}")
    return render(request, "admin/lines_search.html", status=200 if result.found else 404, staff=member.username,
                  query=result.query, result=result, operators=sorted(operators), masked=masked,
                  tried=[gettext(lang, KEY_NAMES[key]) for key in result.tried], key_names=KEY_NAMES,
                  tz=reader_zone(request))


# -- the timeline -----------------------------------------------------------------------------------------------------

@router.get("/lines/id/{line_id}", response_class=HTMLResponse)
def line_by_id(request: Request, db: Db, settings: Config, lang: Lang, member: Reader, line_id: uuid.UUID,
               before: Annotated[str | None, Query(max_length=160)] = None,
               kind: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
               done: Notice = None, error: Notice = None, sim: network.Notice = None,
               sim_error: network.Notice = None) -> Response:
    return _line_page(request, db, lang, member, lambda session: lines.get_line(session, line_id), before=before,
                      kinds=kind, done=done, error=error, sim=sim, sim_error=sim_error)


@router.get("/lines/{msisdn}", response_class=HTMLResponse)
def line_page(request: Request, db: Db, settings: Config, lang: Lang, member: Reader,
              msisdn: Annotated[str, Path(max_length=32)], before: Annotated[str | None, Query(max_length=160)] = None,
              kind: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
              done: Notice = None, error: Notice = None, sim: network.Notice = None,
              sim_error: network.Notice = None) -> Response:
    """The number's newest line (the live one, else the last that held it); former lines by id."""
    def find(session) -> Line:
        return lines.find_line(session, lookup_msisdn(msisdn, settings.default_region))
    return _line_page(request, db, lang, member, find, before=before, kinds=kind, done=done, error=error, sim=sim,
                      sim_error=sim_error)


def _line_page(request: Request, db, lang: str, member: StaffMember, find, *, before: str | None, kinds: list[str],
               done: str | None, error: str | None, sim: str | None, sim_error: str | None) -> Response:
    try:
        cursor = timeline.Cursor.decode(before) if before else None
    except timeline.CursorInvalid as exc:
        return render(request, "portal/error.html", status=400, error=text(lang, exc.code))
    chosen = [k for k in kinds if k in timeline.KINDS]
    now = clock.now()
    try:
        with db.transaction(write=False) as session:
            view = lines.view(session, find(session))
            line = view.line
            page = timeline.timeline(session, line, cursor=cursor, kinds=chosen, extra=(ID_CHECKS,))
            attempts = payments.recent_for_number(session, line.msisdn)
            context: dict[str, Any] = dict(
                topups=topups.for_line(session, line.id, limit=10), calls=calls.call_log(session, line.id),
                network=netstate.status(session, line.id),
                provisioning=netstate.recent_commands(session, line.id, limit=10),
                esim_profile=esim.of_line(session, line.id),
                cards=network.line_cards(session, line) if member.may("network.read") else None,
                refundable=[a for a in attempts if a.line_id == line.id and a.status == SUCCEEDED]
                if member.may("review.refund") else [],
                confirmable=topups.for_line(session, line.id, limit=20) if member.may("lines.act") else [])
    except SimkeepError:
        return render(request, "portal/error.html", status=404, error=error_text(lang, "line_not_found"))
    return render(request, "admin/line.html", view=view, attempts=attempts, page=page, kinds=timeline.KINDS,
                  chosen=chosen, kind_names=KIND_NAMES, tz=reader_zone(request), staff=member.username,
                  may_vouchers=member.may("vouchers.read"), may_manage_sim=member.may("network.manage"),
                  may_act=member.may("lines.act"), may_refund=member.may("review.refund"),
                  paused=lines.reminders_paused(line, now), live=line.state in RENEWABLE,
                  note_max=NOTE_MAX_CHARS, form_key=secrets.token_urlsafe(16),
                  done=gettext(lang, DONE[done]) if done in DONE else None,
                  error=text(lang, error) if error else None,
                  sim_notice=network.done_text(lang, sim), sim_error=network.text(lang, sim_error) if sim_error else None,
                  **context)


def _id_checks(session, line: Line, upto, limit: int) -> timeline.Fetched:
    """The store's ID checks (the store domain sits above history, so this page passes them in)."""
    rows = store_console.id_checks_for_line(session, line.id, upto=upto, limit=limit)
    return timeline.Fetched([timeline.Item(c.checked_at, timeline.ID_CHECK, str(c.id), c) for c in rows],
                            rows[-1].checked_at if len(rows) >= limit else None)


ID_CHECKS = timeline.Source((timeline.ID_CHECK,), _id_checks)


# -- acting on a line -------------------------------------------------------------------------------------------------

def _back(line_id: uuid.UUID, outcome: str) -> Response:
    return redirect(f"/admin/lines/id/{line_id}?{outcome}#actions")


def _act(db, line_id: uuid.UUID, done: str, action) -> Response:
    """Run `action(session, line, now)` in one transaction; back to the timeline with its outcome. A refused action
    changes nothing (its transaction is rolled back) and says why."""
    try:
        with db.transaction() as session:
            action(session, lines.get_line(session, line_id), clock.now())
    except LineNotFound:
        raise
    except SimkeepError as exc:
        return _back(line_id, f"error={exc.code}")
    return _back(line_id, f"done={done}")


@router.post("/lines/id/{line_id}/note")
def add_note(db: Db, member: Actor, line_id: uuid.UUID, note: Annotated[str, Form(max_length=4 * NOTE_MAX_CHARS)],
             _csrf: None = Csrf) -> Response:
    return _act(db, line_id, "note", lambda session, line, now: actions.add_note(
        session, line=line, actor=member.actor, text=note, now=now))


@router.post("/lines/id/{line_id}/resend")
def resend(db: Db, member: Actor, line_id: uuid.UUID, topup_id: Annotated[uuid.UUID, Form()], reason: Reason,
           channel: Annotated[list[str], Form(max_length=2)] = [],  # noqa: B006
           key: FormKey = "", _csrf: None = Csrf) -> Response:
    return _act(db, line_id, "resent", lambda session, line, now: actions.resend_confirmation(
        session, line=line, topup_id=topup_id, channels=channel, key=key or secrets.token_urlsafe(16),
        actor=member.actor, reason=reason, now=now))


@router.post("/lines/id/{line_id}/pause")
def pause(db: Db, member: Actor, line_id: uuid.UUID, until: Annotated[date, Form()], reason: Reason,
          _csrf: None = Csrf) -> Response:
    return _act(db, line_id, "paused", lambda session, line, now: actions.pause_reminders(
        session, line=line, until=until, actor=member.actor, reason=reason, now=now))


@router.post("/lines/id/{line_id}/resume")
def resume(db: Db, member: Actor, line_id: uuid.UUID, reason: Reason, _csrf: None = Csrf) -> Response:
    return _act(db, line_id, "resumed", lambda session, line, now: actions.resume_reminders(
        session, line=line, actor=member.actor, reason=reason, now=now))


@router.post("/lines/id/{line_id}/refund")
def refund(db: Db, settings: Config, member: Refunder, line_id: uuid.UUID, attempt_id: Annotated[uuid.UUID, Form()],
           amount: Annotated[str, Form(max_length=20)], reason: Reason, key: FormKey = "",
           _csrf: None = Csrf) -> Response:
    """A paid top-up of this line, refunded (part or whole) through the one refund path: it takes the credit back,
    asks the provider and writes the audit row."""
    try:
        if not reason.strip():
            return _back(line_id, "error=reason_required")
        with db.transaction(write=False) as session:
            attempt = payments.get_attempt(session, attempt_id)
        if attempt.line_id != line_id:
            return _back(line_id, "error=refund_not_allowed")
        minor = _minor(amount, attempt.currency)
        done = flow.refund(db, settings, attempt_id=attempt.id, amount_minor=minor, reason=reason.strip(),
                           actor=member.actor, idempotency_key=f"line:{key or secrets.token_urlsafe(16)}")
    except SimkeepError as exc:
        return _back(line_id, f"error={exc.code}")
    outcome = {"succeeded": "done=refunded", "pending": "done=refund_pending"}.get(done.status, "error=refund_refused")
    return _back(line_id, outcome)


def _minor(amount: str, currency: str) -> int:
    try:
        value = Decimal(amount.strip().replace(",", ".").replace("\u00a0", "").replace(" ", ""))
    except InvalidOperation:
        raise InvalidAmount() from None
    if not value.is_finite() or value <= 0:
        raise InvalidAmount()
    return Money.parse(value, currency).minor
