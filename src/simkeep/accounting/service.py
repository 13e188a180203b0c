"""The books of a period from the ledger: every entry with its postings (the journal), each account's opening
balance, debits, credits and closing balance, and the register that proves receipts are numbered without gaps.

A period is a span of calendar days in one time zone: the chosen operator's business zone (Europe/Paris for the
French operators) or UTC when no operator is chosen; its instants run from the first day's midnight to the midnight
after the last day, in that zone. The books are per currency: the ledger's system accounts (revenue, clearing,
liabilities) are shared by every operator selling in that currency, so the books of a currency are those of the
company running simkeep, whichever operator's zone dates them.

Entries are numbered per journal over the fiscal year (the calendar year in the books' zone), in (created_at, id)
order: the ledger is append-only and ids are increasing UUIDv7, so two exports of the same data give every entry
the same number, and no table of numbers has to be kept in step with the ledger."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from simkeep.accounting import chart, repository
from simkeep.accounting.chart import Journal, PcgAccount
from simkeep.audit import service as audit
from simkeep.catalog import service as catalog
from simkeep.catalog.models import Operator
from simkeep.core import clock
from simkeep.core.errors import InvalidInput, NotFound
from simkeep.core.money import minor_digits


class PeriodInvalid(InvalidInput):
    code, message = "accounting_period_invalid", "Give the period as two days YYYY-MM-DD, the first not after the last."


class CurrencyUnknown(InvalidInput):
    code, message = "accounting_currency_unknown", "No operator in the catalog sells in this currency."


class OperatorUnknown(NotFound):
    code, message = "accounting_operator_unknown", "No operator with this id in the catalog."


PAGE = 2000  # entries read per query: a few hundred kilobytes of rows


@dataclass(frozen=True, slots=True)
class Books:
    """The books asked for: one currency, calendar days [first, last] in one zone."""

    currency: str
    zone: str
    first: date
    last: date  # included

    @property
    def since(self) -> datetime:
        return _midnight(self.first, self.zone)

    @property
    def until(self) -> datetime:
        return _midnight(self.last + timedelta(days=1), self.zone)

    @property
    def digits(self) -> int:
        return _digits(self.currency)

    def day_of(self, at: datetime) -> date:
        return at.astimezone(clock.zone(self.zone)).date()


@lru_cache(maxsize=32)
def _digits(currency: str) -> int:
    return minor_digits(currency)


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


def books(session: Session, *, first: date, last: date, operator_id: str | None = None,
          currency: str | None = None) -> Books:
    """The books of an operator's currency in its zone, or of a currency in UTC."""
    if first > last or not (first.year >= 2000 and last.year <= 2099):
        raise PeriodInvalid()
    if operator_id:
        found = operator(session, operator_id)
        if currency and currency != found.currency:
            raise CurrencyUnknown(f"{found.id} sells in {found.currency}.")
        return Books(found.currency, found.timezone, first, last)
    if currency is None or currency not in currencies(session):
        raise CurrencyUnknown()
    return Books(currency, "UTC", first, last)


def operator(session: Session, operator_id: str) -> Operator:
    try:
        return catalog.get_operator(session, operator_id)
    except NotFound as exc:
        raise OperatorUnknown() from exc


def currencies(session: Session) -> list[str]:
    return sorted({operator.currency for operator, _ in catalog.list_operators(session)})


# -- the journal ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class JournalLine:
    """One posting of one entry, with what the books call it."""

    entry_id: uuid.UUID
    at: datetime  # the entry's instant (UTC)
    day: date  # its book date, in the books' zone
    kind: str
    reference: str  # the ledger's: the business event behind the entry
    journal: Journal
    label: str  # EcritureLib
    number: int  # EcritureNum: 1, 2, 3 ... per journal and fiscal year
    piece_ref: str  # the receipt number of a top-up that has one, else the entry's reference
    piece_day: date
    account_id: uuid.UUID
    account_code: str
    account_kind: str
    pcg: PcgAccount
    amount_minor: int  # ledger sign: credit positive, debit negative

    @property
    def debit_minor(self) -> int:
        return -self.amount_minor if self.amount_minor < 0 else 0

    @property
    def credit_minor(self) -> int:
        return self.amount_minor if self.amount_minor > 0 else 0


def journal(session: Session, books: Books, *, on_page: Callable[[int], None] | None = None) -> Iterator[JournalLine]:
    """Every posting of the period in `books.currency`, entry by entry in (created_at, id) order, read a page at a
    time. `on_page(n)` is told after each page how many entries it held (a progress bar)."""
    year = books.first.year
    numbers = _numbers_before(session, books)
    after: repository.EntryRow | None = None
    while True:
        entries = repository.entries_page(session, since=books.since, until=books.until, after=after, limit=PAGE)
        if not entries:
            return
        legs: dict[uuid.UUID, list[repository.PostingRow]] = defaultdict(list)
        for posting in repository.postings_of(session, since=books.since, after=after, last=entries[-1],
                                              currency=books.currency):
            legs[posting.entry_id].append(posting)
        topups = {entry.id: topup_id for entry in entries if (topup_id := _topup_id(entry)) is not None}
        receipts = repository.receipt_numbers(session, list(topups.values()))
        for entry in entries:
            if not legs[entry.id]:
                continue  # an entry in another currency
            day = books.day_of(entry.created_at)
            if day.year != year:  # a new fiscal year: every journal starts again at 1
                year, numbers = day.year, defaultdict(int)
            journal_, label = chart.journal_of(entry.kind)
            numbers[journal_.code] += 1
            piece_ref, piece_day = entry.reference, day
            if entry.id in topups and (receipt := receipts.get(topups[entry.id])) is not None:
                piece_ref, piece_day = receipt[0], books.day_of(receipt[1])
            for leg in legs[entry.id]:
                yield JournalLine(entry.id, entry.created_at, day, entry.kind, entry.reference, journal_, label,
                                  numbers[journal_.code], piece_ref, piece_day, leg.account_id, leg.account_code,
                                  leg.account_kind, chart.pcg_account(leg.account_kind, leg.account_code),
                                  leg.amount_minor)
        if on_page is not None:
            on_page(len(entries))
        if len(entries) < PAGE:
            return
        after = entries[-1]


def entry_count(session: Session, books: Books) -> int:
    return repository.entry_count(session, since=books.since, until=books.until)


def _numbers_before(session: Session, books: Books) -> defaultdict[str, int]:
    """Where each journal's numbering stands when the period starts: the entries of the fiscal year before it."""
    numbers: defaultdict[str, int] = defaultdict(int)
    year_start = _midnight(date(books.first.year, 1, 1), books.zone)
    for kind, n in repository.entries_per_kind(session, currency=books.currency, since=year_start,
                                               until=books.since).items():
        numbers[chart.journal_of(kind)[0].code] += n
    return numbers


def _topup_id(entry: repository.EntryRow) -> uuid.UUID | None:
    kind, _, rest = entry.reference.partition(":")
    if entry.kind != "topup" or kind != "topup":
        return None
    try:
        return uuid.UUID(rest)
    except ValueError:
        return None


# -- balances ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Balance:
    """One account's period, in the accountant's sign: a balance is debit minus credit (a subscriber's credit, a
    liability, shows as a negative balance). `accounts` > 1: accounts kept one per owner, added up by kind."""

    group: str
    kind: str
    accounts: int
    pcg: PcgAccount
    opening_minor: int
    debits_minor: int
    credits_minor: int

    @property
    def closing_minor(self) -> int:
        return self.opening_minor + self.debits_minor - self.credits_minor


@dataclass(frozen=True, slots=True)
class Balances:
    books: Books
    rows: list[Balance]

    @property
    def total(self) -> Balance:
        return Balance("total", "", sum(r.accounts for r in self.rows), PcgAccount("", ""),
                       sum(r.opening_minor for r in self.rows), sum(r.debits_minor for r in self.rows),
                       sum(r.credits_minor for r in self.rows))


def balances(session: Session, books: Books) -> Balances:
    """Every account that moved up to the period's end, from postings (never a cached balance). The totals row's
    opening and closing are zero and its debits equal its credits, as the ledger balances."""
    rows = [Balance(row.group, row.kind, row.accounts, _pcg_of(row), -row.before_minor, row.debits_minor,
                    row.credits_minor)
            for row in repository.balances(session, currency=books.currency, since=books.since, until=books.until,
                                           owner_kinds=chart.OWNER_KINDS)]
    return Balances(books, sorted(rows, key=lambda r: (r.pcg.number, r.group)))


def _pcg_of(row: repository.BalanceRow) -> PcgAccount:
    return chart.pcg_account(row.kind, row.group)


# -- the receipt register ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RegisterLine:
    number: str
    sequence: int
    issued_at: datetime
    amount_minor: int
    currency: str
    payment_method: str
    voided: bool


@dataclass
class Proof:
    """What the register proves: numbers 1..last given out, each once (numbers are unique), none missing. Fed the
    numbers in order (`see`), then the counter's last number (`close`)."""

    operator_id: str
    year: int
    count: int = 0
    voided: int = 0
    first: int | None = None
    last: int | None = None
    counter: int | None = None
    missing: list[tuple[int, int]] = field(default_factory=list)  # ranges, both ends included

    def see(self, line: RegisterLine) -> None:
        expected = (self.last or 0) + 1
        if line.sequence > expected:
            self.missing.append((expected, line.sequence - 1))
        self.first = line.sequence if self.first is None else self.first
        self.last, self.count = line.sequence, self.count + 1
        self.voided += line.voided

    def close(self, counter: int | None) -> Proof:
        """Numbers the counter gave out after the last receipt found are missing too (a deleted last receipt)."""
        self.counter = counter
        if counter is not None and counter > (self.last or 0):
            self.missing.append(((self.last or 0) + 1, counter))
        return self

    @property
    def gapless(self) -> bool:
        return not self.missing

    @property
    def missing_count(self) -> int:
        return sum(end - start + 1 for start, end in self.missing)

    def missing_text(self) -> str:
        return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in self.missing)


def register(session: Session, *, operator_id: str, year: int) -> Iterator[RegisterLine]:
    """An operator's receipts of one year in number order."""
    prefix = f"{operator_id.upper()}-{year}-"
    for row in repository.receipts_in_order(session, operator_id=operator_id, prefix=prefix):
        sequence = row.number.removeprefix(prefix)
        yield RegisterLine(row.number, int(sequence) if sequence.isdigit() else 0, row.issued_at, row.amount_minor,
                           row.currency, row.payment_method, row.voided_at is not None)


def prove(session: Session, *, operator_id: str, year: int, keep: int = 0) -> tuple[Proof, list[RegisterLine]]:
    """The register's proof, and its first `keep` lines (a page shows some, the CSV has them all)."""
    given = counter(session, operator_id=operator_id, year=year)  # first: a receipt issued meanwhile is no gap
    proof, kept = Proof(operator_id, year), list[RegisterLine]()
    for line in register(session, operator_id=operator_id, year=year):
        proof.see(line)
        if len(kept) < keep:
            kept.append(line)
    return proof.close(given), kept


def counter(session: Session, *, operator_id: str, year: int) -> int | None:
    return repository.receipt_counter(session, operator_id=operator_id, year=year)


# -- who exported what ------------------------------------------------------------------------------------------------

def record_export(session: Session, *, actor: str, report: str, fmt: str, now: datetime, books: Books | None = None,
                  operator_id: str | None = None, year: int | None = None) -> None:
    """Every export goes into the audit log: who took which books (or which register) out of simkeep, when."""
    details: dict[str, object] = {"report": report, "format": fmt}
    if books is not None:
        details |= {"from": books.first.isoformat(), "to": books.last.isoformat(), "currency": books.currency,
                    "zone": books.zone}
    if operator_id:
        details["operator_id"] = operator_id
    if year is not None:
        details["year"] = year
    subject = f"{report}:{books.first}..{books.last}" if books is not None else f"{report}:{operator_id}:{year}"
    audit.record(session, actor=actor, action="accounting.export", subject_type="accounting", subject_id=subject,
                 reason=f"{report} export ({fmt})", details=details, now=now)
