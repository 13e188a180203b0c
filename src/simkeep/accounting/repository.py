"""The queries behind the books: read-only, over the ledger's tables and the receipts. Periods are read a page of
entries at a time in (created_at, id) order (the index ix_journal_entries_created_at), so a year of entries never
sits in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select, tuple_
from sqlalchemy.orm import Session

from simkeep.ledger.models import Account, JournalEntry, Posting
from simkeep.receipt.models import Receipt, ReceiptCounter


@dataclass(frozen=True, slots=True)
class EntryRow:
    id: uuid.UUID
    kind: str
    reference: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PostingRow:
    entry_id: uuid.UUID
    account_id: uuid.UUID
    account_code: str
    account_kind: str
    amount_minor: int


def entries_page(session: Session, *, since: datetime, until: datetime, after: EntryRow | None,
                 limit: int) -> list[EntryRow]:
    """The next `limit` entries of [since, until) after `after`, in (created_at, id) order (keyset paging on the
    index ix_journal_entries_created_at)."""
    query = (select(JournalEntry.id, JournalEntry.kind, JournalEntry.reference, JournalEntry.created_at)
             .where(JournalEntry.created_at >= since, JournalEntry.created_at < until, *_after(after))
             .order_by(JournalEntry.created_at, JournalEntry.id).limit(limit))
    return [EntryRow(*row) for row in session.connection().execute(query)]  # Core: no ORM row processing


def postings_of(session: Session, *, since: datetime, after: EntryRow | None, last: EntryRow,
                currency: str) -> list[PostingRow]:
    """The postings in `currency` of the entries after `after` up to `last` included (one page of entries_page),
    with their accounts: bounded by the same keys, not by a list of thousands of ids."""
    position = tuple_(JournalEntry.created_at, JournalEntry.id)
    rows = session.connection().execute(
        select(Posting.entry_id, Posting.account_id, Account.code, Account.kind, Posting.amount_minor)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(JournalEntry.created_at >= since, *_after(after), position <= (last.created_at, last.id),
               Posting.currency == currency)
        .order_by(JournalEntry.created_at, JournalEntry.id, Posting.id))
    return [PostingRow(*row) for row in rows]


def _after(entry: EntryRow | None) -> tuple:
    if entry is None:
        return ()
    return (tuple_(JournalEntry.created_at, JournalEntry.id) > (entry.created_at, entry.id),)


def entry_count(session: Session, *, since: datetime, until: datetime) -> int:
    """How many entries [since, until) holds (any currency): the size of a progress bar."""
    return session.scalars(select(func.count()).select_from(JournalEntry)
                           .where(JournalEntry.created_at >= since, JournalEntry.created_at < until)).one()


def entries_per_kind(session: Session, *, currency: str, since: datetime, until: datetime) -> dict[str, int]:
    """How many entries of each kind posted in `currency` during [since, until): where a journal's numbering
    stands when a period starts after the fiscal year did."""
    rows = session.execute(
        select(JournalEntry.kind, func.count(func.distinct(JournalEntry.id)))
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .where(JournalEntry.created_at >= since, JournalEntry.created_at < until, Posting.currency == currency)
        .group_by(JournalEntry.kind))
    return {kind: int(n) for kind, n in rows}


@dataclass(frozen=True, slots=True)
class BalanceRow:
    group: str  # the account's code, or its kind for accounts kept one per owner (added up)
    kind: str
    accounts: int
    before_minor: int  # the postings before the period (ledger sign: credit positive)
    debits_minor: int  # the period's debits, positive
    credits_minor: int  # the period's credits, positive


def balances(session: Session, *, currency: str, since: datetime, until: datetime,
             owner_kinds: tuple[str, ...]) -> list[BalanceRow]:
    """Per account (or per kind, for accounts kept one per owner) everything posted up to `until`, split into
    before `since`, and the period's debits and credits. Always from postings, never from a cached balance."""
    amount, at = Posting.amount_minor, JournalEntry.created_at
    group = case((Account.kind.in_(owner_kinds), Account.kind), else_=Account.code).label("grp")
    in_period = at >= since
    rows = session.execute(
        select(group, Account.kind, func.count(func.distinct(Account.id)),
               func.coalesce(func.sum(case((at < since, amount), else_=0)), 0),
               func.coalesce(func.sum(case((and_(in_period, amount < 0), -amount), else_=0)), 0),
               func.coalesce(func.sum(case((and_(in_period, amount > 0), amount), else_=0)), 0))
        .select_from(Posting)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.currency == currency, at < until)
        .group_by(group, Account.kind))
    # PostgreSQL sums a BIGINT as NUMERIC
    return [BalanceRow(g, kind, int(n), int(before), int(debits), int(credits))
            for g, kind, n, before, debits, credits in rows]


def receipt_numbers(session: Session, topup_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, datetime]]:
    """The receipt (number, issued at) of each of these top-ups that has one."""
    if not topup_ids:
        return {}
    rows = session.execute(select(Receipt.topup_id, Receipt.number, Receipt.issued_at)
                           .where(Receipt.topup_id.in_(topup_ids)))
    return {topup_id: (number, issued_at) for topup_id, number, issued_at in rows}


@dataclass(frozen=True, slots=True)
class ReceiptRow:
    number: str
    issued_at: datetime
    amount_minor: int
    currency: str
    payment_method: str
    voided_at: datetime | None


def receipts_in_order(session: Session, *, operator_id: str, prefix: str, page: int = 5000) -> Iterator[ReceiptRow]:
    """An operator's receipts whose number starts with `prefix`, in number order. Numbers are zero-padded to six
    digits and grow longer past 999999, so (length, number) is their numeric order."""
    last: tuple[int, str] | None = None
    length = func.length(Receipt.number)
    while True:
        query = (select(Receipt.number, Receipt.issued_at, Receipt.amount_minor, Receipt.currency,
                        Receipt.payment_method, Receipt.voided_at)
                 .where(Receipt.operator_id == operator_id, Receipt.number.startswith(prefix, autoescape=True))
                 .order_by(length, Receipt.number).limit(page))
        if last is not None:
            query = query.where(or_(length > last[0], and_(length == last[0], Receipt.number > last[1])))
        rows = [ReceiptRow(*row) for row in session.execute(query)]
        yield from rows
        if len(rows) < page:
            return
        last = (len(rows[-1].number), rows[-1].number)


def receipt_counter(session: Session, *, operator_id: str, year: int) -> int | None:
    """The last number the operator's counter gave out that year (None: no receipt that year)."""
    return session.scalars(select(ReceiptCounter.last_number).where(ReceiptCounter.operator_id == operator_id,
                                                                    ReceiptCounter.year == year)).first()
