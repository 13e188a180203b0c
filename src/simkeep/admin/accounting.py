"""The books in the back office (finance and admin: `accounting.read`): a period and operator form, the balances on
screen, the receipt register with its proof, and the downloads — journal CSV and XLSX, balances CSV, the FEC, the
register CSV. accounting.service does the work; every download is recorded in the audit log before it starts.

Files stream: the CSV and the FEC are written a chunk at a time from a read transaction of their own; the XLSX is
built in a spooled temporary file (openpyxl writes a zip) and then sent a chunk at a time."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from simkeep.accounting import exports, fec
from simkeep.accounting import service as books_service
from simkeep.accounting.service import Books
from simkeep.admin.access import StaffMember, allowed
from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.db import Database
from simkeep.locale.languages import gettext
from simkeep.web.deps import Config, Db
from simkeep.web.pages import N_, Lang, render
from simkeep.web.params import calendar_day

router = APIRouter(prefix="/admin/accounting", include_in_schema=False)
Reader = Annotated[StaffMember, Depends(allowed("accounting.read"))]
OperatorQ = Annotated[str | None, Query(alias="operator", max_length=64, description="an operator id")]
First = Annotated[str | None, Query(alias="from", max_length=10, description="YYYY-MM-DD, the period's first day")]
Last = Annotated[str | None, Query(alias="to", max_length=10, description="YYYY-MM-DD, the period's last day")]
Year = Annotated[str | None, Query(alias="year", max_length=4, description="the receipt register's year")]
REGISTER_ROWS = 200  # receipts shown on the page; the CSV has them all
TEXTS = {
    "period": N_("This is not a valid period. Write the days as YYYY-MM-DD, between 2000 and 2099, the first one "
                 "not after the last."),
    "operator": N_("Choose an operator from the list."),
    "year": N_("Give the register's year as four digits, between 2000 and 2099."),
    "fec_siren_missing": N_("The FEC needs the company's SIREN: set SIMKEEP_COMPANY_SIREN."),
    "fec_currency_not_eur": N_("The FEC is kept in euros: choose an operator that sells in euros."),
    "fec_period_spans_years": N_("A FEC covers one fiscal year: choose a period within one calendar year."),
}
CSV, XLSX, TEXT = "text/csv; charset=utf-8", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", \
    "text/plain; charset=iso-8859-15"


@dataclass(frozen=True, slots=True)
class Asked:
    operator_id: str
    books: Books
    year: int


@router.get("", response_class=HTMLResponse)
def accounting_page(request: Request, db: Db, settings: Config, lang: Lang, member: Reader, operator: OperatorQ = None,
                    first: First = None, last: Last = None, year: Year = None) -> Response:
    with db.transaction(write=False) as session:
        operators = _operators(session)
        asked, problem = _ask(session, operators, operator, first, last, year)
        if asked is None:  # show this month of the first operator, with what was wrong
            asked, _ = _ask(session, operators, None, None, None, None)
        assert asked is not None
        found = books_service.balances(session, asked.books)
        proof, receipts = books_service.prove(session, operator_id=asked.operator_id, year=asked.year,
                                              keep=REGISTER_ROWS)
    query = f"operator={asked.operator_id}&from={asked.books.first}&to={asked.books.last}"
    return render(request, "admin/accounting.html", status=422 if problem else 200,
                  error=gettext(lang, TEXTS[problem]) if problem else None, staff=member.username,
                  operators=operators, asked=asked, balances=found, proof=proof, receipts=receipts,
                  register_rows=REGISTER_ROWS, query=query, siren=settings.siren,
                  fec_name=_fec_name(settings.siren, asked.books))


@router.get("/journal.csv")
def journal_csv(request: Request, db: Db, lang: Lang, member: Reader, operator: OperatorQ = None,
                first: First = None, last: Last = None) -> Response:
    asked = _asked_or_error(request, db, lang, operator, first, last)
    if isinstance(asked, Response):
        return asked
    books = asked.books
    _record(db, member, books=books, report="journal", fmt="csv")

    def body() -> Iterator[bytes]:
        with db.transaction(write=False) as session:
            for chunk in exports.journal_csv(books_service.journal(session, books), books):
                yield chunk.encode()

    return _download(body(), CSV, f"journal-{books.currency}-{books.first}-{books.last}.csv")


@router.get("/journal.xlsx")
def journal_xlsx(request: Request, db: Db, lang: Lang, member: Reader, operator: OperatorQ = None,
                 first: First = None, last: Last = None) -> Response:
    asked = _asked_or_error(request, db, lang, operator, first, last)
    if isinstance(asked, Response):
        return asked
    books = asked.books
    _record(db, member, books=books, report="journal", fmt="xlsx")

    def body() -> Iterator[bytes]:
        # openpyxl writes a zip, which needs a seekable file: the workbook is built first, then sent
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as file:
            with db.transaction(write=False) as session:
                exports.xlsx(books_service.journal(session, books), books_service.balances(session, books), file)
            file.seek(0)
            while chunk := file.read(256 * 1024):
                yield chunk

    return _download(body(), XLSX, f"journal-{books.currency}-{books.first}-{books.last}.xlsx")


@router.get("/balances.csv")
def balances_csv(request: Request, db: Db, lang: Lang, member: Reader, operator: OperatorQ = None,
                 first: First = None, last: Last = None) -> Response:
    asked = _asked_or_error(request, db, lang, operator, first, last)
    if isinstance(asked, Response):
        return asked
    books = asked.books
    _record(db, member, books=books, report="balances", fmt="csv")
    with db.transaction(write=False) as session:
        found = books_service.balances(session, books)
    return _download((chunk.encode() for chunk in exports.balances_csv(found)), CSV,
                     f"balances-{books.currency}-{books.first}-{books.last}.csv")


@router.get("/fec")
def fec_file(request: Request, db: Db, settings: Config, lang: Lang, member: Reader, operator: OperatorQ = None,
             first: First = None, last: Last = None) -> Response:
    asked = _asked_or_error(request, db, lang, operator, first, last)
    if isinstance(asked, Response):
        return asked
    books = asked.books
    try:
        siren = fec.check(books, settings.siren)
    except (fec.FecSirenMissing, fec.FecCurrency, fec.FecSpansYears) as exc:
        return render(request, "portal/error.html", status=422, error=gettext(lang, TEXTS[exc.code]))
    _record(db, member, books=books, report="fec", fmt="txt")

    def body() -> Iterator[bytes]:
        with db.transaction(write=False) as session:
            yield from fec.encoded(books_service.journal(session, books), books)

    return _download(body(), TEXT, fec.filename(siren, books.last))


@router.get("/receipts.csv")
def receipts_csv(request: Request, db: Db, lang: Lang, member: Reader, operator: OperatorQ = None,
                 year: Year = None) -> Response:
    with db.transaction(write=False) as session:
        operators = _operators(session)
    if operator not in operators:
        return render(request, "portal/error.html", status=422, error=gettext(lang, TEXTS["operator"]))
    chosen = _year(year, clock.now().year)
    if chosen is None:
        return render(request, "portal/error.html", status=422, error=gettext(lang, TEXTS["year"]))
    with db.transaction() as session:
        books_service.record_export(session, actor=member.actor, report="receipts", fmt="csv", operator_id=operator,
                                    year=chosen, now=clock.now())

    def body() -> Iterator[bytes]:
        with db.transaction(write=False) as session:
            given = books_service.counter(session, operator_id=operator, year=chosen)
            lines = books_service.register(session, operator_id=operator, year=chosen)
            for chunk in exports.register_csv(lines, books_service.Proof(operator, chosen), given):
                yield chunk.encode()

    return _download(body(), CSV, f"receipts-{operator}-{chosen}.csv")


# -- the form ---------------------------------------------------------------------------------------------------------

def _operators(session: Session) -> dict[str, str]:
    """Operator id → what the form shows, in the catalog's order."""
    return {operator.id: f"{operator.brand} {operator.product}" for operator, _ in catalog.list_operators(session)}


def _ask(session: Session, operators: dict[str, str], operator: str | None, first: str | None, last: str | None,
         year: str | None) -> tuple[Asked | None, str | None]:
    """What the form asks for (defaults: the first operator, this month so far in its zone, the period's year), or
    None and the key of what is wrong. The operator is checked against the catalog before any query sees it."""
    operator_id = operator if operator is not None else next(iter(operators), "")
    if operator_id not in operators:
        return None, "operator"
    found = books_service.operator(session, operator_id)
    today = clock.now().astimezone(clock.zone(found.timezone)).date()
    start = calendar_day(first) if first else today.replace(day=1)
    end = calendar_day(last) if last else today
    if start is None or end is None or start > end:
        return None, "period"
    chosen = _year(year, end.year)
    if chosen is None:
        return None, "year"
    try:
        books = books_service.books(session, first=start, last=end, operator_id=operator_id)
    except books_service.PeriodInvalid:
        return None, "period"
    return Asked(operator_id, books, chosen), None


def _year(text: str | None, default: int) -> int | None:
    if not text:
        return default
    return int(text) if text.isascii() and text.isdigit() and 2000 <= int(text) <= 2099 else None


def _asked_or_error(request: Request, db: Database, lang: str, operator: str | None, first: str | None,
                    last: str | None) -> Asked | Response:
    with db.transaction(write=False) as session:
        asked, problem = _ask(session, _operators(session), operator, first, last, None)
    if asked is None:
        return render(request, "portal/error.html", status=422, error=gettext(lang, TEXTS[problem or "period"]))
    return asked


def _record(db: Database, member: StaffMember, *, books: Books, report: str, fmt: str) -> None:
    with db.transaction() as session:
        books_service.record_export(session, actor=member.actor, report=report, fmt=fmt, books=books,
                                    now=clock.now())


def _fec_name(siren: str | None, books: Books) -> str | None:
    try:
        return fec.filename(fec.check(books, siren), books.last)
    except (fec.FecSirenMissing, fec.FecCurrency, fec.FecSpansYears):
        return None


def _download(chunks: Iterator[bytes], media_type: str, name: str) -> StreamingResponse:
    return StreamingResponse(chunks, media_type=media_type,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})

