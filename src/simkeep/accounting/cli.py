"""`simkeep accounting ...`: the books of a period as files — the journal (CSV, or XLSX with the balances on a second
sheet), the balances, the FEC for the tax office, and the receipt register with its proof.

Each export is recorded in the audit log (who, which books, which period) before the file is written; `--as
USERNAME` names the staff member (role with accounting.read), otherwise the log says cli:<login name>."""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.orm import Session

from simkeep.accounting import exports, fec
from simkeep.accounting import service as books_service
from simkeep.accounting.service import Books, JournalLine
from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.staff import service as staff
from simkeep.terminal import console, database, fail, progress_bar

app = typer.Typer(help="The books from the ledger: journal, balances, FEC, receipt register.", no_args_is_help=True)


class Format(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a day: write YYYY-MM-DD") from exc


First = Annotated[str, typer.Option("--from", help="the period's first day, YYYY-MM-DD (in the operator's time zone, "
                                                   "or UTC without --operator)")]
Last = Annotated[str, typer.Option("--to", help="the period's last day, YYYY-MM-DD, included")]
OperatorOpt = Annotated[str | None, typer.Option("--operator", help="an operator id: its currency and time zone date "
                                                                    "the books", show_default=False)]
CurrencyOpt = Annotated[str | None, typer.Option("--currency", help="the books' currency when no --operator is "
                                                                    "given (UTC days)", show_default=False)]
Out = Annotated[Path, typer.Option("--out", help="the file to write", dir_okay=False, writable=True)]
FormatOpt = Annotated[Format, typer.Option("--format", help="csv, or xlsx (typed cells, balances on a 2nd sheet)")]
As = Annotated[str | None, typer.Option("--as", help="your staff username (permission accounting.read); the audit "
                                                     "log names you", show_default=False)]


@app.command("journal")
def journal_cmd(first: First, last: Last, out: Out, operator: OperatorOpt = None, currency: CurrencyOpt = None,
                fmt: FormatOpt = Format.csv, as_: As = None) -> None:
    """Every journal entry of the period with its postings: day, journal and entry number, kind, reference, account,
    debit, credit. XLSX adds the balances on a second sheet; both have a totals row."""
    db = database()
    books = _books(db, first, last, operator, currency, report="journal", fmt=fmt.value, as_=as_)
    with db.transaction(write=False) as session:
        if fmt is Format.xlsx:
            with out.open("wb") as file:
                exports.xlsx(_with_progress(session, books, "journal"), books_service.balances(session, books), file)
        else:
            _write_text(out, exports.journal_csv(_with_progress(session, books, "journal"), books))
    console.print(f"journal {books.first}..{books.last} ({books.currency}, {books.zone}) → {escape(str(out))}")


@app.command("balances")
def balances_cmd(first: First, last: Last, out: Out, operator: OperatorOpt = None, currency: CurrencyOpt = None,
                 fmt: FormatOpt = Format.csv, as_: As = None) -> None:
    """Per account (accounts kept one per subscriber, reseller or store added up by kind): opening balance, debits,
    credits, closing balance (debit minus credit), from the postings, and the PCG account each maps to."""
    db = database()
    books = _books(db, first, last, operator, currency, report="balances", fmt=fmt.value, as_=as_)
    with db.transaction(write=False) as session:
        found = books_service.balances(session, books)
    if fmt is Format.xlsx:
        with out.open("wb") as file:
            exports.xlsx(None, found, file)
    else:
        _write_text(out, exports.balances_csv(found))
    total = found.total
    console.print(f"{len(found.rows)} accounts, debits {exports.plain(total.debits_minor, books.digits)} = credits "
                  f"{exports.plain(total.credits_minor, books.digits)} {books.currency} → {escape(str(out))}")


@app.command("fec")
def fec_cmd(first: First, last: Last, operator: OperatorOpt = None, currency: CurrencyOpt = None,
            out: Annotated[Path | None, typer.Option("--out", help="the file or directory to write; default: "
                                                                   "<SIREN>FEC<closing day>.txt here",
                                                     show_default=False)] = None,
            as_: As = None) -> None:
    """The Fichier des Écritures Comptables (article A47 A-1 LPF) of the period: 18 tab-separated columns, one line
    per posting, for the company whose SIREN is SIMKEEP_COMPANY_SIREN. The period lies within one fiscal year."""
    db = database()
    siren = get_settings().siren
    with db.transaction(write=False) as session:
        try:
            books = _parse_books(session, first, last, operator, currency)
            siren = fec.check(books, siren)
        except SimkeepError as exc:
            fail(exc)
    name = fec.filename(siren, books.last)
    path = out / name if out is not None and out.is_dir() else out or Path(name)
    _record(db, books, report="fec", fmt="txt", as_=as_)
    with db.transaction(write=False) as session, path.open("wb") as file:
        for chunk in fec.encoded(_with_progress(session, books, "FEC"), books):
            file.write(chunk)
    console.print(f"FEC {books.first}..{books.last} → {escape(str(path))}")


@app.command("receipts")
def receipts_cmd(operator: Annotated[str, typer.Option("--operator", help="the operator whose receipts to list")],
                 year: Annotated[int, typer.Option("--year", help="the year in the receipt numbers", min=2000,
                                                   max=2099)],
                 out: Out, as_: As = None) -> None:
    """The receipt register: an operator's receipts of one year in number order (date, amount, method, voided),
    then the proof — first and last number, count, and "no gaps" or the numbers missing."""
    db = database()
    try:
        with db.transaction() as session:
            actor = _actor(session, as_)
            books_service.operator(session, operator)
            books_service.record_export(session, actor=actor, report="receipts", fmt="csv", operator_id=operator,
                                        year=year, now=clock.now())
    except SimkeepError as exc:
        fail(exc)
    proof = books_service.Proof(operator, year)
    with db.transaction(write=False) as session:
        given = books_service.counter(session, operator_id=operator, year=year)
        _write_text(out, exports.register_csv(books_service.register(session, operator_id=operator, year=year),
                                              proof, given))
    verdict = "no gaps" if proof.gapless else f"[red]missing {escape(proof.missing_text())}[/red]"
    console.print(f"{proof.count} receipts, {proof.first or '-'}..{proof.last or '-'}: {verdict} → "
                  f"{escape(str(out))}")
    if not proof.gapless:
        raise typer.Exit(2)


def _books(db: Database, first: str, last: str, operator: str | None, currency: str | None, *, report: str, fmt: str,
           as_: str | None) -> Books:
    with db.transaction(write=False) as session:
        try:
            books = _parse_books(session, first, last, operator, currency)
        except SimkeepError as exc:
            fail(exc)
    _record(db, books, report=report, fmt=fmt, as_=as_)
    return books


def _parse_books(session: Session, first: str, last: str, operator: str | None, currency: str | None) -> Books:
    return books_service.books(session, first=_day(first), last=_day(last), operator_id=operator,
                               currency=currency.upper() if currency else None)


def _record(db: Database, books: Books, *, report: str, fmt: str, as_: str | None) -> None:
    try:
        with db.transaction() as session:
            books_service.record_export(session, actor=_actor(session, as_), report=report, fmt=fmt, books=books,
                                        now=clock.now())
    except SimkeepError as exc:
        fail(exc)


def _actor(session: Session, as_: str | None) -> str:
    if as_:
        return staff.acting(session, username=as_, permission="accounting.read")
    try:
        return f"cli:{getpass.getuser()}"[:80]
    except Exception:  # no login name in some containers
        return "cli"


def _with_progress(session: Session, books: Books, what: str) -> Iterator[JournalLine]:
    """The period's journal with a bar counting its entries (a year holds millions)."""
    total = books_service.entry_count(session, books)
    with progress_bar(disable=total < 10_000, unit="entries") as progress:
        task = progress.add_task(what, total=total)
        yield from books_service.journal(session, books, on_page=lambda n: progress.advance(task, n))


def _write_text(path: Path, chunks: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        for chunk in chunks:
            file.write(chunk)

