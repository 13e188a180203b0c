"""The journal, the balances and the receipt register as files: CSV streamed a chunk of rows at a time (a period
of a million postings is never a list in memory), and XLSX written by openpyxl in write-only mode (rows go to the
file as they come): typed cells (amounts as numbers with a number format, days as dates), a frozen header, set
column widths, the journal on a first sheet and the balances on a second, each with a totals row that balances.

CSV amounts use a decimal point ("12.50") and days ISO 8601, for machines; the XLSX shows the same values typed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from simkeep.accounting import fec
from simkeep.accounting.fec import entry_number
from simkeep.accounting.service import Balance, Balances, Books, JournalLine, Proof, RegisterLine
from simkeep.core.money import minor_digits

JOURNAL_HEADER = ("date", "journal", "entry_number", "at_utc", "entry_id", "kind", "reference", "piece_ref",
                  "account_code", "account_kind", "pcg_account", "debit", "credit", "currency")
BALANCES_HEADER = ("pcg_account", "pcg_label", "account", "kind", "accounts", "opening", "debits", "credits",
                   "closing", "currency")
REGISTER_HEADER = ("number", "issued_at_utc", "amount", "currency", "payment_method", "voided")
PROOF_HEADER = ("operator", "year", "first", "last", "count", "voided", "counter", "gaps")
JOURNAL_WIDTHS = (11, 8, 13, 20, 37, 18, 48, 48, 52, 18, 11, 13, 13, 8)
BALANCES_WIDTHS = (11, 48, 52, 18, 9, 15, 15, 15, 15, 8)


def decimal(minor: int, digits: int) -> Decimal:
    return Decimal(minor).scaleb(-digits)


def plain(minor: int, digits: int) -> str:
    """12.50 (-12.50): what a CSV carries."""
    return fec.amount(minor, digits).replace(",", ".") if minor >= 0 else "-" + plain(-minor, digits)


# -- rows, shared by the CSV and the XLSX -----------------------------------------------------------------------------

def journal_row(line: JournalLine, books: Books) -> tuple[Any, ...]:
    return (line.day, line.journal.code, entry_number(line), line.at.replace(tzinfo=None, microsecond=0),
            str(line.entry_id), line.kind, line.reference, line.piece_ref, line.account_code, line.account_kind,
            line.pcg.number, decimal(line.debit_minor, books.digits), decimal(line.credit_minor, books.digits),
            books.currency)


def balance_row(balance: Balance, books: Books) -> tuple[Any, ...]:
    d = books.digits
    return (balance.pcg.number, balance.pcg.label, balance.group, balance.kind, balance.accounts,
            decimal(balance.opening_minor, d), decimal(balance.debits_minor, d), decimal(balance.credits_minor, d),
            decimal(balance.closing_minor, d), books.currency)


def register_row(line: RegisterLine) -> tuple[Any, ...]:
    return (line.number, line.issued_at.isoformat(), plain(line.amount_minor, minor_digits(line.currency)),
            line.currency, line.payment_method, "yes" if line.voided else "no")


def proof_row(proof: Proof) -> tuple[Any, ...]:
    return (proof.operator_id, proof.year, proof.first or "", proof.last or "", proof.count, proof.voided,
            proof.counter if proof.counter is not None else "",
            "no gaps" if proof.gapless else f"missing: {proof.missing_text()}")


# -- CSV --------------------------------------------------------------------------------------------------------------

def _csv_value(value: Any, digits: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return f"{value:.{digits}f}"
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv(header: tuple[str, ...], rows: Iterable[tuple[Any, ...]], digits: int, *, per_chunk: int = 1000) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([_csv_value(value, digits) for value in row])
        if n % per_chunk == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def journal_csv(lines: Iterable[JournalLine], books: Books) -> Iterator[str]:
    """The same columns as the XLSX's journal sheet, formatted straight to text (a year holds millions of rows)."""
    digits, currency = books.digits, books.currency

    def texts() -> Iterator[tuple[str, ...]]:
        for line in lines:
            yield (line.day.isoformat(), line.journal.code, entry_number(line),
                   line.at.replace(tzinfo=None, microsecond=0).isoformat() + "Z", str(line.entry_id), line.kind,
                   line.reference, line.piece_ref, line.account_code, line.account_kind, line.pcg.number,
                   plain(line.debit_minor, digits), plain(line.credit_minor, digits), currency)

    return _csv(JOURNAL_HEADER, texts(), digits)


def balances_csv(balances: Balances) -> Iterator[str]:
    return _csv(BALANCES_HEADER, (balance_row(row, balances.books) for row in balances.rows), balances.books.digits)


def register_csv(lines: Iterable[RegisterLine], proof: Proof, counter: int | None) -> Iterator[str]:
    """The receipts in number order, then the proof, made while the lines go by: `counter` is the last number the
    operator's counter had given out when the export began (read before the receipts, so a receipt issued during
    the export is never taken for a gap)."""
    def seen() -> Iterator[tuple[Any, ...]]:
        for line in lines:
            proof.see(line)
            yield register_row(line)

    yield from _csv(REGISTER_HEADER, seen(), 0)
    proof.close(counter)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(())
    writer.writerow(PROOF_HEADER)
    writer.writerow(proof_row(proof))
    yield out.getvalue()


# -- XLSX -------------------------------------------------------------------------------------------------------------

def xlsx(lines: Iterable[JournalLine] | None, balances: Balances, out: IO[bytes]) -> None:
    """The journal (first sheet, unless `lines` is None) and the balances (next sheet) into `out`."""
    books = balances.books
    book = Workbook(write_only=True)
    amount = "#,##0" + ("." + "0" * books.digits if books.digits else "")
    if lines is not None:
        journal = _sheet(book, "Journal", JOURNAL_HEADER, JOURNAL_WIDTHS)
        debits = credits = Decimal(0)
        for line in lines:
            row = journal_row(line, books)
            debits, credits = debits + row[11], credits + row[12]
            journal.append(_typed(journal, row, amount))
        journal.append(_totals(journal, len(JOURNAL_HEADER), {11: debits, 12: credits}, amount))
    sheet = _sheet(book, "Balances", BALANCES_HEADER, BALANCES_WIDTHS)
    for balance in balances.rows:
        sheet.append(_typed(sheet, balance_row(balance, books), amount))
    total = balance_row(balances.total, books)
    sheet.append(_totals(sheet, len(BALANCES_HEADER), {i: total[i] for i in (4, 5, 6, 7, 8)}, amount))
    book.save(out)


def _sheet(book: Workbook, title: str, header: tuple[str, ...], widths: tuple[int, ...]) -> WriteOnlyWorksheet:
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.append([_cell(sheet, name, None, bold=True) for name in header])
    return sheet


def _typed(sheet: WriteOnlyWorksheet, row: tuple[Any, ...], amount: str) -> list[Any]:
    return [_cell(sheet, value, _format(value, amount)) for value in row]


def _format(value: object, amount: str) -> str | None:
    if isinstance(value, Decimal):
        return amount
    if isinstance(value, datetime):
        return "yyyy-mm-dd hh:mm:ss"
    if isinstance(value, date):
        return "yyyy-mm-dd"
    return None


def _cell(sheet: WriteOnlyWorksheet, value: Any, number_format: str | None, *, bold: bool = False) -> Cell:
    """A typed cell: openpyxl writes a Decimal as a number and a date as a date serial."""
    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)
    return cell


def _totals(sheet: WriteOnlyWorksheet, width: int, values: dict[int, Any], amount: str) -> list[Any]:
    return [_cell(sheet, "Total" if column == 0 else values.get(column), _format(values.get(column), amount),
                  bold=True) for column in range(width)]
