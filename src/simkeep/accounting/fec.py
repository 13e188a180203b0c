"""The Fichier des Écritures Comptables (FEC) of article A47 A-1 of the Livre des procédures fiscales: the books a
French company hands to the tax office on request, one line per posting, in the 18 columns below.

- Tab-separated, a header line, lines ending in CR LF, encoded ISO 8859-15 (one of the encodings the
  administration accepts; a character it cannot hold becomes "?").
- Dates YYYYMMDD; amounts with a decimal comma and no thousands separator ("12,50"), in Debit or Credit, the other
  "0,00". Kept in euros: simkeep holds no exchange rates, so Montantdevise and Idevise stay empty.
- EcritureNum: the journal's code and its number in the fiscal year ("VE00000001"), continuous, as numbered by
  accounting.service.journal; PieceRef: the receipt number of a top-up that has one, else the ledger reference.
- ValidDate: the entry's own date (the ledger is append-only: an entry is final when it is written).
- The file is named <SIREN>FEC<closing date YYYYMMDD>.txt.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from stdnum.fr import siren as siren_number

from simkeep.accounting.service import Books, JournalLine
from simkeep.core.errors import InvalidInput

COLUMNS = ("JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum",
           "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "EcritureLet", "DateLet",
           "ValidDate", "Montantdevise", "Idevise")
SEPARATOR, NEWLINE, ENCODING = "\t", "\r\n", "iso-8859-15"
CURRENCY = "EUR"
_UNSAFE = str.maketrans({"\t": " ", "|": " ", "\r": " ", "\n": " "})


class FecSirenMissing(InvalidInput):
    code, message = "fec_siren_missing", "Set SIMKEEP_COMPANY_SIREN (a valid 9-digit SIREN) to export the FEC."


class FecCurrency(InvalidInput):
    code, message = "fec_currency_not_eur", "The FEC is kept in euros; choose the EUR books."


class FecSpansYears(InvalidInput):
    code, message = "fec_period_spans_years", "A FEC covers one fiscal year: choose a period within one year."


def check(books: Books, siren: str | None) -> str:
    """The SIREN to name the file with, once the books can make a FEC."""
    if not siren or not siren_number.is_valid(siren):
        raise FecSirenMissing()
    if books.currency != CURRENCY:
        raise FecCurrency()
    if books.first.year != books.last.year:
        raise FecSpansYears()
    return siren_number.compact(siren)


def filename(siren: str, closing: date) -> str:
    return f"{siren}FEC{closing:%Y%m%d}.txt"


def amount(minor: int, digits: int) -> str:
    """12,50: a decimal comma, no thousands separator, never negative (the side says which way)."""
    if digits == 0:
        return str(minor)
    units, fraction = divmod(minor, 10 ** digits)
    return f"{units},{fraction:0{digits}d}"


def entry_number(line: JournalLine) -> str:
    return f"{line.journal.code}{line.number:08d}"


def rows(lines: Iterable[JournalLine], books: Books) -> Iterator[tuple[str, ...]]:
    """The FEC's lines (without the header), in the journal's order. What belongs to the entry (journal, number,
    dates, piece, label) is formatted once per entry, not once per posting: a year holds millions of postings."""
    digits, entry = books.digits, None
    head: tuple[str, ...] = ()
    piece: tuple[str, ...] = ()
    valid: tuple[str, ...] = ()
    for line in lines:
        if line.entry_id != entry:
            entry, day = line.entry_id, f"{line.day:%Y%m%d}"
            head = (line.journal.code, line.journal.label, entry_number(line), day)
            piece = (line.piece_ref.translate(_UNSAFE), f"{line.piece_day:%Y%m%d}", line.label.translate(_UNSAFE))
            valid = ("", "", day, "", "")
        pcg = line.pcg
        auxiliary = (str(line.account_id), f"{pcg.auxiliary} {line.account_id.hex[-12:]}") if pcg.auxiliary \
            else ("", "")
        yield (*head, pcg.number, pcg.label, *auxiliary, *piece, amount(line.debit_minor, digits),
               amount(line.credit_minor, digits), *valid)


def text(lines: Iterable[JournalLine], books: Books) -> Iterator[str]:
    """The file as text, a line at a time: the header, then every posting."""
    yield SEPARATOR.join(COLUMNS) + NEWLINE
    for row in rows(lines, books):
        yield SEPARATOR.join(row) + NEWLINE


def encoded(lines: Iterable[JournalLine], books: Books, *, lines_per_chunk: int = 500) -> Iterator[bytes]:
    """The file as bytes in chunks of a few hundred lines, for a download or a file."""
    chunk: list[str] = []
    for line in text(lines, books):
        chunk.append(line)
        if len(chunk) >= lines_per_chunk:
            yield "".join(chunk).encode(ENCODING, errors="replace")
            chunk = []
    if chunk:
        yield "".join(chunk).encode(ENCODING, errors="replace")
