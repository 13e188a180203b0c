"""Back-office pages for recharge cards: batches made here and exported once (the printer's CSV and a PDF sheet, in
one zip), a batch's report and actions on its serial ranges (sell to a reseller, block, unblock; past BULK_LIMIT
cards a second staff member approves), and support's one screen for "my card did not work" (a card by serial, a
number's failed tries and lockout).

The voucher service does the work and writes the audit log; this module parses, checks the role (vouchers.read to
look, vouchers.manage to change anything) and renders. Staff see a failed try's exact reason; the customer never
does (every failure answers them the same)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import StaffMember, allowed
from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.errors import BatchNotFound, InvalidMsisdn, SimkeepError, VoucherNotFound
from simkeep.core.phone import lookup_msisdn, masked
from simkeep.db import Database
from simkeep.locale import formats
from simkeep.locale.languages import BASE_LOCALE, gettext
from simkeep.reseller import service as resellers
from simkeep.voucher import export, pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import VoucherBatch
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Csrf, Lang, error_text, reader_zone, redirect, render

router = APIRouter(prefix="/admin/vouchers", include_in_schema=False)
PATH = "/admin/vouchers"
Reader = Annotated[StaffMember, Depends(allowed("vouchers.read"))]
Manager = Annotated[StaffMember, Depends(allowed("vouchers.manage"))]
Notice = Annotated[str | None, Query(max_length=20, pattern=r"^[a-z_]+$")]
Count = Annotated[int | None, Query(ge=0, le=vouchers.MAX_BATCH)]
MAX_EXPIRY_DAYS = 3653  # ten years

# What went wrong, as staff read it: the service's error codes, and this page's own checks.
TEXTS = {
    "voucher_batch_exported": N_("This batch's PINs were exported once already: they are never shown again. If the "
                                 "files were lost, block the batch and make a new one."),
    "voucher_batch_not_found": N_("No batch has this id."),
    "voucher_action_not_found": N_("This action is not waiting for a decision any more."),
    "second_approver_required": N_("Another staff member must approve this: whoever asked for an action cannot "
                                   "approve it too."),
    "reseller_not_found": N_("No active reseller has this code."),
    "insufficient_float": N_("The reseller's float is too small to pay for these cards: nothing was sold."),
    "conflict": N_("Some of these cards cannot take this action (already sold, blocked or expired, or not all of "
                   "one printed batch): nothing was done."),
    "vouchers_not_configured": N_("Recharge cards are not set up: SIMKEEP_VOUCHER_PEPPER and "
                                  "SIMKEEP_VOUCHER_SEAL_KEY are required."),
    "bad_quantity": N_("Choose a number of cards between 1 and %(max)s."),
    "bad_expiry": N_("Choose an expiry date after today and within ten years, written YYYY-MM-DD."),
    "bad_offer": N_("Choose an offer from the list."),
    "reason_required": N_("Give a reason: it is kept in the audit log."),
    "bad_range": N_("Give serial numbers of this batch, from %(first)s to %(last)s, the first not after the last."),
    "reseller_required": N_("Choose the reseller who buys these cards."),
    "voucher_not_found": N_("No card has this serial number."),
    "invalid_msisdn": N_("This is not a valid mobile number. Check it and try again."),
}
# What the page says after a change.
DONE = {
    "created": N_("Batch made. Its PINs stay sealed until its one export: use the button in its row."),
    "done": N_("Done: %(num)s cards changed state."),
    "pending": N_("More than %(limit)s cards: this action now waits for another staff member's approval."),
    "approved": N_("Approved: the action ran and %(num)s cards changed state."),
    "rejected": N_("Rejected: no card changed."),
}


def text(lang: str, code: str, **values: object) -> str:
    """A code's sentence in `lang`; numbers in it are written as that language does."""
    message = TEXTS.get(code)
    if message is None:
        return error_text(lang, code)
    locale = BASE_LOCALE[lang]
    return gettext(lang, message) % {k: formats.number(v, locale) if isinstance(v, int) else v
                                     for k, v in values.items()}


def done_text(lang: str, done: str | None, num: int | None) -> str | None:
    if done not in DONE:
        return None
    locale = BASE_LOCALE[lang]
    return gettext(lang, DONE[done]) % {"num": formats.number(num or 0, locale),
                                        "limit": formats.number(vouchers.BULK_LIMIT, locale)}


class PageError(Exception):
    """A check of this page failed: the code of its text in TEXTS, and the values it names."""

    def __init__(self, code: str, status: int = 422, **values: object) -> None:
        super().__init__(code)
        self.code, self.status, self.values = code, status, values


# -- batches --------------------------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def batch_list(request: Request, db: Db, lang: Lang, member: Reader, done: Notice = None) -> Response:
    return _list_page(request, db, member, notice=done_text(lang, done, None))


def _list_page(request: Request, db: Database, member: StaffMember, *, status: int = 200, error: str | None = None,
               notice: str | None = None, form: dict | None = None) -> Response:
    with db.transaction(write=False) as session:
        batches = vouchers.list_batches(session)
        counts = vouchers.batch_counts(session, batches)
        offers = catalog.list_operators(session)
    operators = {op.id: op for op, _ in offers}
    today = clock.now().date()
    response = render(request, "admin/vouchers.html", status=status, staff=member.username, batches=batches,
                      counts=counts, operators=operators, offers=offers, error=error, notice=notice,
                      may_manage=member.may("vouchers.manage"), tz=reader_zone(request),
                      limit=vouchers.SEALED_EXPORT_LIMIT, pdf_limit=export.PDF_LIMIT,
                      form=form or {"expires": (today + timedelta(days=365)).isoformat(), "quantity": "100"},
                      min_expiry=(today + timedelta(days=1)).isoformat())
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/batches", response_class=HTMLResponse)
def create_batch(request: Request, db: Db, settings: Config, lang: Lang, member: Manager,
                 offer: Annotated[str, Form(max_length=80)] = "", quantity: Annotated[str, Form(max_length=12)] = "",
                 expires: Annotated[str, Form(max_length=10)] = "", reason: Annotated[str, Form(max_length=500)] = "",
                 _csrf: None = Csrf) -> Response:
    form = {"offer": offer, "quantity": quantity, "expires": expires, "reason": reason}
    try:
        count = _quantity(quantity)
        if not reason.strip():
            raise PageError("reason_required")
        keys = pins.keys(settings)
        with db.transaction() as session:
            operator = _operator_of_offer(session, offer)
            now = clock.now()
            vouchers.create_batch(session, offer_id=offer, quantity=count, now=now, actor=member.actor,
                                  reason=reason, keys=keys, expires_at=_expiry(expires, operator.timezone, now))
    except PageError as exc:
        return _list_page(request, db, member, status=exc.status, error=text(lang, exc.code, **exc.values), form=form)
    except SimkeepError as exc:
        return _list_page(request, db, member, status=exc.status, error=text(lang, exc.code), form=form)
    return redirect(f"{PATH}?done=created")


def _quantity(value: str) -> int:
    try:
        count = int(value.strip().replace(",", "").replace(" ", "").replace("\u202f", "").replace("\u00a0", ""))
    except ValueError:
        count = 0
    if not 1 <= count <= vouchers.SEALED_EXPORT_LIMIT:
        raise PageError("bad_quantity", max=vouchers.SEALED_EXPORT_LIMIT)
    return count


def _operator_of_offer(session, offer_id: str):
    operator_id = catalog.operator_of_offer_or_none(session, offer_id)
    if operator_id is None:
        raise PageError("bad_offer")
    return catalog.get_operator(session, operator_id)


def _expiry(value: str, timezone: str, now: datetime) -> datetime:
    """The card works through the whole day chosen, in the operator's zone: it expires at the next local midnight."""
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    today = now.astimezone(clock.zone(timezone)).date()
    if day is None or not today < day <= today + timedelta(days=MAX_EXPIRY_DAYS):
        raise PageError("bad_expiry")
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=clock.zone(timezone)).astimezone(UTC)


@router.post("/batches/{batch_id}/export")
def export_batch(request: Request, db: Db, settings: Config, lang: Lang, member: Manager, batch_id: uuid.UUID,
                 _csrf: None = Csrf) -> Response:
    """The batch's one export: the zip is laid out from the sealed PINs first, with no transaction open (a PDF sheet
    takes seconds), then the seal is erased by one guarded update; the zip is sent only if this request did that."""
    try:
        keys = pins.keys(settings)
        with db.transaction(write=False) as session:
            batch, cards = vouchers.sealed_cards(session, batch_id, keys=keys)
            operator = catalog.get_operator(session, batch.operator_id)
        now = clock.now()
        data = export.zip_bytes(batch, cards, settings.base_url, offer_name=f"{operator.brand} {operator.product}",
                                hotline=settings.hotline, timezone=operator.timezone, made_at=now)
        del cards
        with db.transaction() as session:
            vouchers.export_batch(session, batch_id, actor=member.actor, keys=keys, now=now)
    except BatchNotFound:
        return render(request, "portal/error.html", status=404, error=text(lang, "voucher_batch_not_found"))
    except SimkeepError as exc:
        return _list_page(request, db, member, status=exc.status, error=text(lang, exc.code))
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{export.file_stem(batch)}.zip"',
        "Cache-Control": "no-store"})


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, db: Db, lang: Lang, member: Reader, batch_id: uuid.UUID, done: Notice = None,
               num: Count = None) -> Response:
    return _batch_page(request, db, lang, member, batch_id, notice=done_text(lang, done, num))


def _batch_page(request: Request, db: Database, lang: str, member: StaffMember, batch_id: uuid.UUID, *,
                status: int = 200, error: str | None = None, form: dict | None = None,
                notice: str | None = None) -> Response:
    try:
        with db.transaction(write=False) as session:
            report = vouchers.report(session, batch_id)
            operator = catalog.get_operator(session, report.batch.operator_id)
            batch = report.batch
            actions = [a for a in vouchers.recent_actions(session, limit=200)
                       if a.serial_from <= batch.serial_to and a.serial_to >= batch.serial_from]
            sellers = [r for r in resellers.list_all(session) if r.disabled_at is None and r.currency == batch.currency]
    except BatchNotFound:
        return render(request, "portal/error.html", status=404, error=text(lang, "voucher_batch_not_found"))
    return render(request, "admin/voucher_batch.html", status=status, staff=member.username, report=report,
                  batch=batch, operator=operator, actions=actions, resellers=sellers, error=error, notice=notice,
                  form=form or {}, may_manage=member.may("vouchers.manage"), tz=reader_zone(request),
                  bulk_limit=vouchers.BULK_LIMIT)


@router.post("/batches/{batch_id}/actions", response_class=HTMLResponse)
def request_action(request: Request, db: Db, lang: Lang, member: Manager, batch_id: uuid.UUID,
                   action: Annotated[str, Form(max_length=10)] = "",
                   serial_from: Annotated[str, Form(max_length=20)] = "",
                   serial_to: Annotated[str, Form(max_length=20)] = "",
                   reseller: Annotated[str, Form(max_length=32)] = "",
                   reason: Annotated[str, Form(max_length=500)] = "", _csrf: None = Csrf) -> Response:
    form = {"action": action, "serial_from": serial_from, "serial_to": serial_to, "reseller": reseller,
            "reason": reason}
    try:
        with db.transaction() as session:
            batch = vouchers.get_batch(session, batch_id)
            first, last = _range(batch, serial_from, serial_to)
            if action not in (vouchers.SELL, vouchers.BLOCK, vouchers.UNBLOCK):
                raise PageError("invalid_input")
            if action == vouchers.SELL and not reseller.strip():
                raise PageError("reseller_required")
            if not reason.strip():
                raise PageError("reason_required")
            done = vouchers.request_action(session, action=action, serial_from=first, serial_to=last,
                                           actor=member.actor, reason=reason, now=clock.now(),
                                           reseller_code=reseller.strip() if action == vouchers.SELL else None)
    except BatchNotFound:
        return render(request, "portal/error.html", status=404, error=text(lang, "voucher_batch_not_found"))
    except PageError as exc:
        return _batch_page(request, db, lang, member, batch_id, status=exc.status, form=form,
                           error=text(lang, exc.code, **exc.values))
    except SimkeepError as exc:
        return _batch_page(request, db, lang, member, batch_id, status=exc.status, form=form,
                           error=text(lang, exc.code))
    if done.state == vouchers.PENDING:
        return redirect(f"{PATH}/batches/{batch_id}?done=pending")
    return redirect(f"{PATH}/batches/{batch_id}?done=done&num={done.result.get('changed', 0)}")


def _range(batch: VoucherBatch, first: str, last: str) -> tuple[int, int]:
    try:
        start, end = int(first.strip().replace(" ", "")), int(last.strip().replace(" ", ""))
    except ValueError:
        start = end = 0
    if not batch.serial_from <= start <= end <= batch.serial_to:
        raise PageError("bad_range", first=str(batch.serial_from), last=str(batch.serial_to))
    return start, end


# -- maker-checker --------------------------------------------------------------------------------------------------

@router.get("/actions", response_class=HTMLResponse)
def actions_page(request: Request, db: Db, lang: Lang, member: Reader, done: Notice = None,
                 num: Count = None) -> Response:
    return _actions_page(request, db, member, notice=done_text(lang, done, num))


def _actions_page(request: Request, db: Database, member: StaffMember, *, status: int = 200,
                  error: str | None = None, notice: str | None = None) -> Response:
    with db.transaction(write=False) as session:
        pending = vouchers.pending_actions(session)
        recent = [a for a in vouchers.recent_actions(session, limit=50) if a.state != vouchers.PENDING]
    return render(request, "admin/voucher_actions.html", status=status, staff=member.username, pending=pending,
                  recent=recent, error=error, notice=notice, may_manage=member.may("vouchers.manage"),
                  actor=member.actor, tz=reader_zone(request), bulk_limit=vouchers.BULK_LIMIT)


@router.post("/actions/{action_id}/approve", response_class=HTMLResponse)
def approve(request: Request, db: Db, lang: Lang, member: Manager, action_id: uuid.UUID,
            _csrf: None = Csrf) -> Response:
    try:
        with db.transaction() as session:
            done = vouchers.approve(session, action_id, actor=member.actor, now=clock.now())
    except SimkeepError as exc:
        return _actions_page(request, db, member, status=exc.status, error=text(lang, exc.code))
    return redirect(f"{PATH}/actions?done=approved&num={done.result.get('changed', 0)}")


@router.post("/actions/{action_id}/reject", response_class=HTMLResponse)
def reject(request: Request, db: Db, lang: Lang, member: Manager, action_id: uuid.UUID,
           reason: Annotated[str, Form(max_length=500)] = "", _csrf: None = Csrf) -> Response:
    if not reason.strip():
        return _actions_page(request, db, member, status=422, error=text(lang, "reason_required"))
    try:
        with db.transaction() as session:
            vouchers.reject(session, action_id, actor=member.actor, reason=reason, now=clock.now())
    except SimkeepError as exc:
        return _actions_page(request, db, member, status=exc.status, error=text(lang, exc.code))
    return redirect(f"{PATH}/actions?done=rejected")


# -- support: "my card did not work" ----------------------------------------------------------------------------------

@router.get("/lookup", response_class=HTMLResponse)
def lookup(request: Request, db: Db, settings: Config, lang: Lang, member: Reader,
           serial: Annotated[str, Query(max_length=32)] = "", msisdn: Annotated[str, Query(max_length=32)] = "") -> Response:
    """A card by its serial (its state and story, and the tries that matched it, each with the exact reason), or a
    number by what the customer says it is (its failed tries and whether it is locked out of redeeming)."""
    card = number = failures = locked = operator = None
    error, status = None, 200
    now = clock.now()
    try:
        with db.transaction(write=False) as session:
            if serial.strip():
                card = vouchers.lookup(session, serial)
                operator = catalog.get_operator(session, card.batch.operator_id)
            elif msisdn.strip():
                number = lookup_msisdn(msisdn, settings.default_region)
                failures = vouchers.failures_for(session, number)
                locked = vouchers.locked_until(session, number, now=now,
                                               failures_allowed=settings.voucher_failures_per_number,
                                               failure_hours=settings.voucher_failure_hours)
    except (VoucherNotFound, InvalidMsisdn) as exc:
        error, status = text(lang, exc.code), exc.status
    return render(request, "admin/voucher_lookup.html", status=status, staff=member.username, serial=serial,
                  msisdn=msisdn, card=card, operator=operator, number=number, failures=failures, locked=locked,
                  masked=masked, error=error, tz=reader_zone(request), now=now,
                  failure_hours=settings.voucher_failure_hours,
                  failures_allowed=settings.voucher_failures_per_number)
