"""Back-office pages for the SIM and number inventory: cards by state and a search by ICCID, IMSI or number, the
operator's numbers with what the line lifecycle makes of them (free, assigned, in quarantine), the vendor's files
imported (every bad row shown by its line number, nothing imported), and on a line's page its card: assign one from
stock, swap it, report it lost.

network.read (admin, support) to look; network.manage (admin) to import and to change a line's card. The network
inventory service does the work and writes the audit log; a number's state comes from the lines here, above both."""

from __future__ import annotations

import codecs
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from simkeep.admin.access import StaffMember, allowed
from simkeep.audit import service as audit
from simkeep.audit.models import AuditEntry
from simkeep.catalog import service as catalog
from simkeep.catalog.models import Operator
from simkeep.core import clock
from simkeep.core.errors import InvalidMsisdn, InventoryFileRefused, SimkeepError
from simkeep.core.phone import lookup_msisdn
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.line.models import Line, LockedLine
from simkeep.locale.languages import gettext
from simkeep.network import inventory, repository
from simkeep.network.inventory import LineRef
from simkeep.network.models import SIM_STATES, NetworkNumber, Sim
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Csrf, Lang, error_text, reader_zone, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)
PATH = "/admin/network"
IMPORT_PATHS = (f"{PATH}/sims/import", f"{PATH}/numbers/import")  # large uploads (main.py's BodyLimit)
Reader = Annotated[StaffMember, Depends(allowed("network.read"))]
Manager = Annotated[StaffMember, Depends(allowed("network.manage"))]
Notice = Annotated[str | None, Query(max_length=30, pattern=r"^[a-z_]+$")]
FREE, TAKEN, QUARANTINE = "free", "assigned", "quarantine"
NUMBER_STATES = (FREE, TAKEN, QUARANTINE)
SHOWN_ROW_ERRORS = 500  # a refused file's bad rows listed on the page (the command line lists them all)

# What went wrong, as staff read it.
TEXTS = {
    "sim_not_found": N_("No SIM card in stock has this ICCID."),
    "sim_not_in_stock": N_("This SIM card is not in stock: it is assigned to a line, lost or retired."),
    "sim_wrong_operator": N_("This SIM card is another operator's: choose a card of the line's operator."),
    "line_has_sim": N_("This line already has a SIM card: swap it instead."),
    "line_has_no_sim": N_("This line has no SIM card: assign one first."),
    "line_not_live": N_("This line is deactivated or no longer holds its number: it cannot take a SIM card."),
    "reason_required": N_("Give a reason: it is kept in the audit log."),
    "no_file": N_("Choose a file to import."),
    "not_text": N_("This file is not a UTF-8 text (CSV) file."),
    "bad_operator": N_("Choose the operator from the list."),
    "inventory_file_refused": N_("The file was refused and nothing was imported: fix the rows listed and import it "
                                 "again."),
}
# The same sentences as network.inventory.PROBLEMS, for translation: a refused file's rows, by problem code.
ROW_TEXTS = {
    "iccid_missing": N_("no ICCID"),
    "iccid_characters": N_("ICCID %(iccid)s has characters other than digits"),
    "iccid_length": N_("ICCID %(iccid)s has %(digits)s digits, not 18 to 20"),
    "iccid_luhn": N_("ICCID %(iccid)s fails its Luhn check digit"),
    "imsi_format": N_("IMSI %(imsi)s is not 15 digits"),
    "imsi_network": N_("IMSI %(imsi)s is not of the operator's network (MCC-MNC %(codes)s)"),
    "kind_unknown": N_("kind %(kind)s is neither physical nor esim"),
    "profile_long": N_("the profile name is longer than 64 characters"),
    "iccid_repeated": N_("ICCID %(iccid)s is also on line %(line)s"),
    "imsi_repeated": N_("IMSI %(imsi)s is also on line %(line)s"),
    "iccid_known": N_("ICCID %(iccid)s is already in the inventory"),
    "imsi_known": N_("IMSI %(imsi)s is already in the inventory"),
    "column_missing": N_("the header has no %(column)s column"),
    "no_cards": N_("the file has no cards"),
    "no_numbers": N_("the file has no numbers"),
    "msisdn_invalid": N_("%(value)s is not a mobile number of the operator's country"),
    "msisdn_missing": N_("no number: give msisdn, or first and last"),
    "msisdn_both": N_("give either a number or a range (first, last), not both"),
    "range_backwards": N_("the range %(first)s-%(last)s does not run upwards between numbers of one length"),
    "range_large": N_("the range %(first)s-%(last)s holds %(count)s numbers, more than %(max)s"),
    "msisdn_repeated": N_("%(msisdn)s is also on line %(line)s"),
    "msisdn_known": N_("%(msisdn)s is already in the inventory"),
}
DONE = {
    "assigned": N_("SIM card assigned: the network is being told to switch it on."),
    "swapped": N_("SIM card swapped: the old card's IMSI is being removed from the network, then the new one added."),
    "lost": N_("Card reported lost: its IMSI is being removed from the network. Assign a new card when the "
               "subscriber has one."),
}


def text(lang: str, code: str) -> str:
    message = TEXTS.get(code)
    return gettext(lang, message) if message else error_text(lang, code)


def row_text(lang: str, problem: dict) -> str:
    values = {k: v for k, v in problem.items() if k != "code"}
    return gettext(lang, ROW_TEXTS[problem["code"]]) % values


def done_text(lang: str, done: str | None) -> str | None:
    return gettext(lang, DONE[done]) if done in DONE else None


class PageError(Exception):
    def __init__(self, code: str, status: int = 422) -> None:
        super().__init__(code)
        self.code, self.status = code, status


@dataclass(frozen=True)
class NumberRow:
    msisdn: str
    operator_id: str
    state: str  # free, assigned or quarantine: what the lines make of it
    line_state: str | None


# -- what the pages read ------------------------------------------------------------------------------------------

def _number_state():
    """A number is assigned while a line holds it (active to deactivated), in quarantine while its last line is, and
    free otherwise (no line, or its line went back to the pool). At most one line is not `available` per number."""
    return case((Line.state.is_(None), FREE), (Line.state == "quarantine", QUARANTINE), else_=TAKEN)


def _numbers_query():
    return (select(NetworkNumber.msisdn, NetworkNumber.operator_id, _number_state(), Line.state)
            .outerjoin(Line, and_(Line.msisdn == NetworkNumber.msisdn, Line.state != "available")))


def numbers(session: Session, *, text: str = "", operator_id: str | None = None, state: str | None = None,
            limit: int = 100) -> list[NumberRow]:
    query = _numbers_query().order_by(NetworkNumber.msisdn).limit(limit)
    if text:
        query = query.where(NetworkNumber.msisdn.contains(text, autoescape=True))
    if operator_id:
        query = query.where(NetworkNumber.operator_id == operator_id)
    if state:
        query = query.where(_number_state() == state)
    return [NumberRow(*row) for row in session.execute(query)]


def number_counts(session: Session, operator_id: str | None = None) -> dict[str, int]:
    state = _number_state()
    query = (select(state, func.count()).select_from(NetworkNumber)
             .outerjoin(Line, and_(Line.msisdn == NetworkNumber.msisdn, Line.state != "available")).group_by(state))
    if operator_id:
        query = query.where(NetworkNumber.operator_id == operator_id)
    counts: dict[str, int] = {key: count for key, count in session.execute(query)}
    return {s: counts.get(s, 0) for s in NUMBER_STATES}


def line_ref(line: Line | LockedLine) -> LineRef:
    return LineRef(line.id, line.msisdn, line.operator_id, line.state)


def live_line(session: Session, raw: str, region: str) -> Line:
    return lines.find_line(session, lookup_msisdn(raw, region))


@dataclass(frozen=True)
class LineCards:
    """A line's cards as its admin page shows them: the current one, those it had, and the audit of each change."""

    current: Sim | None
    past: list[Sim]
    stock: int  # cards of the line's operator in stock (the assign and swap forms need one)
    history: list[AuditEntry]


def line_cards(session: Session, line: Line) -> LineCards:
    cards = repository.sims_of_line(session, line.id)
    current = next((c for c in cards if c.state == "assigned"), None)
    history = [e for e in audit.for_subject(session, "line", str(line.id)) if e.action.startswith("sim.")]
    stock = repository.sim_counts(session, line.operator_id)["in_stock"]
    return LineCards(current, [c for c in cards if c is not current], stock, history[::-1])


# -- the inventory page -------------------------------------------------------------------------------------------

@router.get("/network", response_class=HTMLResponse)
def inventory_page(request: Request, db: Db, settings: Config, member: Reader,
                   q: Annotated[str, Query(max_length=32)] = "",
                   state: Annotated[str, Query(max_length=12)] = "",
                   operator: Annotated[str, Query(max_length=64)] = "") -> Response:
    return _page(request, db, settings.default_region, member, q=q.strip(), state=state, operator=operator)


def _page(request: Request, db: Database, region: str, member: StaffMember, *, q: str = "", state: str = "",
          operator: str = "", status: int = 200, error: str | None = None, rows: list[str] | None = None,
          imported: dict | None = None, form: dict | None = None) -> Response:
    sim_state = state if state in SIM_STATES else None
    with db.transaction(write=False) as session:
        operators = [op for op, _ in catalog.list_operators(session)]
        op_id = operator if any(o.id == operator for o in operators) else None
        line_ids = _lines_of(session, q, region)
        cards = repository.search_sims(session, text=q if q.isdigit() else "", state=sim_state, operator_id=op_id,
                                       line_ids=line_ids) if q or sim_state or op_id else []
        if q and not q.isdigit() and not line_ids:
            cards = []
        numbers_of = {c.line_id: m for c in cards if c.line_id for m in [_msisdn_of(session, c.line_id)] if m}
        found = numbers(session, text=q.lstrip("+0") if q else "", operator_id=op_id) if q else []
        response = render(request, "admin/network.html", status=status, staff=member.username,
                          counts=repository.sim_counts(session, op_id), number_counts=number_counts(session, op_id),
                          cards=cards, numbers_of=numbers_of, numbers=found, operators=operators,
                          q=q, state=sim_state or "", operator=op_id or "", states=SIM_STATES, error=error,
                          rows=rows or [], imported=imported, form=form or {}, tz=reader_zone(request),
                          may_manage=member.may("network.manage"), shown=SHOWN_ROW_ERRORS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _lines_of(session: Session, q: str, region: str) -> list[uuid.UUID]:
    """The live line of a number typed in the search box, if it is one."""
    if not q or len(q) < 6:
        return []
    try:
        return [live_line(session, q, region).id]
    except (InvalidMsisdn, SimkeepError):
        return []


def _msisdn_of(session: Session, line_id: uuid.UUID) -> str | None:
    return session.scalar(select(Line.msisdn).where(Line.id == line_id))


@router.post("/network/sims/import", response_class=HTMLResponse)
def import_sims(request: Request, db: Db, settings: Config, lang: Lang, member: Manager,
                file: Annotated[UploadFile | None, File()] = None,
                operator: Annotated[str, Form(max_length=64)] = "",
                profile: Annotated[str, Form(max_length=64)] = "", _csrf: None = Csrf) -> Response:
    return _import(request, db, settings.default_region, lang, member, file, operator, kind="sims",
                   profile=profile.strip() or "standard")


@router.post("/network/numbers/import", response_class=HTMLResponse)
def import_numbers(request: Request, db: Db, settings: Config, lang: Lang, member: Manager,
                   file: Annotated[UploadFile | None, File()] = None,
                   operator: Annotated[str, Form(max_length=64)] = "", _csrf: None = Csrf) -> Response:
    return _import(request, db, settings.default_region, lang, member, file, operator, kind="numbers")


def _import(request: Request, db: Database, region: str, lang: str, member: StaffMember,
            file: UploadFile | None, operator_id: str, *, kind: str, profile: str = "standard") -> Response:
    form = {"operator": operator_id, "profile": profile, "kind": kind}
    try:
        if file is None or not file.filename:
            raise PageError("no_file")
        lines_of_file = _text_lines(file)
        source = file.filename[-120:]
        with db.transaction() as session:
            op = session.get(Operator, operator_id)
            if op is None:
                raise PageError("bad_operator")
            if kind == "sims":
                count = inventory.import_sims(session, lines_of_file, operator=op, source=source,
                                              actor=member.actor, profile=profile, now=clock.now())
            else:
                count = inventory.import_numbers(session, lines_of_file, operator=op, source=source,
                                                 actor=member.actor, now=clock.now())
    except PageError as exc:
        return _page(request, db, region, member, status=exc.status, error=text(lang, exc.code), form=form)
    except InventoryFileRefused as exc:
        bad = exc.rows
        rows = [f"{r['line']}: " + "; ".join(row_text(lang, p) for p in r["problems"]) for r in bad[:SHOWN_ROW_ERRORS]]
        return _page(request, db, region, member, status=422, error=text(lang, exc.code), rows=rows, form=form)
    except SimkeepError as exc:
        return _page(request, db, region, member, status=exc.status, error=text(lang, exc.code), form=form)
    return _page(request, db, region, member, operator=operator_id, form=form,
                 imported={"kind": kind, "count": count, "file": source})


def _text_lines(file: UploadFile) -> list[str]:
    try:
        text_ = codecs.decode(file.file.read(), "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PageError("not_text") from exc
    return text_.splitlines(keepends=True)


# -- a line's card ------------------------------------------------------------------------------------------------

@router.post("/lines/{msisdn}/sim", response_class=HTMLResponse)
def assign(request: Request, db: Db, settings: Config, lang: Lang, member: Manager, msisdn: str,
           iccid: Annotated[str, Form(max_length=32)] = "", reason: Annotated[str, Form(max_length=500)] = "",
           _csrf: None = Csrf) -> Response:
    return _change(request, db, settings.default_region, lang, msisdn, reason, "assigned", lambda s, line: (
        inventory.assign(s, line=line, iccid=iccid, actor=member.actor, reason=reason, now=clock.now())))


@router.post("/lines/{msisdn}/sim/swap", response_class=HTMLResponse)
def swap(request: Request, db: Db, settings: Config, lang: Lang, member: Manager, msisdn: str,
         iccid: Annotated[str, Form(max_length=32)] = "", reason: Annotated[str, Form(max_length=500)] = "",
         lost: Annotated[str, Form(max_length=3)] = "", _csrf: None = Csrf) -> Response:
    return _change(request, db, settings.default_region, lang, msisdn, reason, "swapped", lambda s, line: (
        inventory.swap(s, line=line, new_iccid=iccid, actor=member.actor, reason=reason, lost=bool(lost),
                       now=clock.now())))


@router.post("/lines/{msisdn}/sim/lost", response_class=HTMLResponse)
def report_lost(request: Request, db: Db, settings: Config, lang: Lang, member: Manager, msisdn: str,
                reason: Annotated[str, Form(max_length=500)] = "", _csrf: None = Csrf) -> Response:
    return _change(request, db, settings.default_region, lang, msisdn, reason, "lost", lambda s, line: (
        inventory.report_lost(s, line=line, actor=member.actor, reason=reason, now=clock.now())))


def _change(request: Request, db: Database, region: str, lang: str, msisdn: str, reason: str, done: str,
            act) -> Response:
    """Lock the line (its state cannot move under the change), act, and go back to the line's page; an error goes
    back there too, named by its code (the page says it in the reader's language)."""
    try:
        number = lookup_msisdn(msisdn, region)
    except InvalidMsisdn:
        return render(request, "portal/error.html", status=404, error=error_text(lang, "line_not_found"))
    try:
        if not reason.strip():
            raise PageError("reason_required")
        with db.transaction() as session:
            locked = lines.lock_live_line(session, number)  # follow() and this change queue commands in turn
            if locked is None:
                raise lines.no_live_line(session, number)
            act(session, line_ref(locked[0]))
    except PageError as exc:
        return redirect(f"/admin/lines/{number}?sim_error={exc.code}#sim")
    except SimkeepError as exc:
        if exc.code == "line_not_found":
            return render(request, "portal/error.html", status=404, error=error_text(lang, "line_not_found"))
        return redirect(f"/admin/lines/{number}?sim_error={exc.code}#sim")
    return redirect(f"/admin/lines/{number}?sim={done}#sim")
