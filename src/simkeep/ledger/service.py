"""The only writer of ledger rows. Double-entry, append-only: every entry sums to zero per currency,
corrections are new entries. Subscriber accounts keep a cached balance changed by guarded updates."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from simkeep.core.errors import InsufficientBalance, LedgerUnbalanced
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.db import insert_or_ignore
from simkeep.ledger.models import Account, JournalEntry, Posting

SUBSCRIBER_CREDIT, SUBSCRIBER_BONUS = "subscriber_credit", "subscriber_bonus"
CLEARING, PROMOTION_EXPENSE, REVENUE, BREAKAGE = "channel_clearing", "promotion_expense", "revenue", "breakage"
# Vouchers: what a sold, unredeemed card is worth is owed to its holder (deferred revenue) until it is redeemed
# (moved to the subscriber's credit) or expires (moved to breakage); a reseller's discount is a commission expense.
VOUCHER_LIABILITY, COMMISSION, RESELLER_FLOAT = "voucher_liability", "reseller_commission", "reseller_float"
# Stores: the cash a store collects is the operator's, so each store has an account of what it owes (a sale moves the
# price into it, negative: owed; its commission comes back out of it); counting a drawer short or over posts the
# difference against cash over/short; card-present payments wait in the counter terminals' clearing account.
STORE_ACCOUNT, STORE_COMMISSION, CASH_OVER_SHORT = "store_account", "store_commission", "cash_over_short"
CARD_PRESENT = "card_present"  # the clearing of payments taken on a store's card terminal
# What stores pay over to the operator (cash taken to the bank, a transfer) waits in this clearing, per currency,
# until the operator's bank statement shows it; a remittance moves it out of the store's account (store.settlement).
STORE_REMITTANCE = "store_remittance"
# Partners (cashback and affiliate sites): the commission a renewal they sent earns them is owed to them (a liability,
# positive) against marketing expense until paid; a refund reverses it (promotion.cashback).
PARTNER_PAYABLE, MARKETING_EXPENSE = "partner_payable", "marketing_expense"
_NAMESPACE = uuid.UUID("6f1d7c52-4a43-4b8e-9a57-3e0f8f1c2b10")

# Clearing accounts: money on its way in waits in the clearing account of the sales channel that took it, or of the
# payment provider that collected it, until it is paid out. The ledger names them and opens every one for each
# currency the catalog brings, so the catalog need not know who sells or who collects; a new channel or provider
# is added here, which is what gives it an account to post to.
CHANNELS = ("portal", "voucher", "agent", "ivr", "sms", "api", "auto_renew", "reseller")
PROVIDERS = ("sandbox", "stripe", "paypal", "sepa")


@dataclass(frozen=True, slots=True)
class Leg:
    account_id: uuid.UUID
    amount: Money
    tracked: bool = False  # a subscriber account whose cached balance moves with the posting


@lru_cache(maxsize=1024)
def system_account_id(kind: str, currency: str, channel: str | None = None) -> uuid.UUID:
    """System accounts have ids derived from their code, so the hot path never looks them up."""
    return uuid.uuid5(_NAMESPACE, _system_code(kind, currency, channel))


def _system_code(kind: str, currency: str, channel: str | None) -> str:
    return f"{kind}:{channel}:{currency}" if channel else f"{kind}:{currency}"


def provider_clearing(provider: str) -> str:
    """The clearing a payment provider's money comes through (a top-up's `clearing`)."""
    return f"provider:{provider}"


def clearing_account_id(currency: str, clearing: str) -> uuid.UUID:
    """A channel's (`portal`) or a provider's (`provider_clearing("stripe")`) clearing account."""
    return system_account_id(CLEARING, currency, clearing)


def ensure_system_accounts(session: Session, *, currencies: set[str], now: datetime) -> None:
    """Open the system accounts of each currency (clearing, promotion expense, revenue, breakage, voucher liability,
    commission); idempotent."""
    clearings = CHANNELS + tuple(provider_clearing(name) for name in PROVIDERS) + (CARD_PRESENT, STORE_REMITTANCE)
    rows = []
    for currency in sorted(currencies):
        specs = [(CLEARING, ch) for ch in clearings] + [(kind, None) for kind in (
            PROMOTION_EXPENSE, REVENUE, BREAKAGE, VOUCHER_LIABILITY, COMMISSION, STORE_COMMISSION, CASH_OVER_SHORT,
            PARTNER_PAYABLE, MARKETING_EXPENSE)]
        for kind, channel in specs:
            rows.append({"id": system_account_id(kind, currency, channel), "code": _system_code(kind, currency, channel),
                         "kind": kind, "currency": currency, "balance_minor": None, "created_at": now})
    _insert_ignore(session, rows)


def open_subscriber_accounts(session: Session, *, owner_id: uuid.UUID, currency: str, now: datetime) -> tuple[uuid.UUID, uuid.UUID]:
    credit, bonus = new_id(), new_id()
    session.execute(insert(Account.__table__), [
        {"id": credit, "code": f"{SUBSCRIBER_CREDIT}:{owner_id}", "kind": SUBSCRIBER_CREDIT, "currency": currency,
         "balance_minor": 0, "created_at": now},
        {"id": bonus, "code": f"{SUBSCRIBER_BONUS}:{owner_id}", "kind": SUBSCRIBER_BONUS, "currency": currency,
         "balance_minor": 0, "created_at": now},
    ])
    return credit, bonus


def open_float_account(session: Session, *, owner_id: uuid.UUID, currency: str, now: datetime) -> uuid.UUID:
    """A reseller's prepaid float: a tracked account, so a purchase can never take it below zero."""
    account_id = new_id()
    session.execute(insert(Account.__table__), [
        {"id": account_id, "code": f"{RESELLER_FLOAT}:{owner_id}", "kind": RESELLER_FLOAT, "currency": currency,
         "balance_minor": 0, "created_at": now}])
    return account_id


def open_store_account(session: Session, *, owner_id: uuid.UUID, currency: str, now: datetime) -> uuid.UUID:
    """What a store owes the operator (sales collected less its commission): untracked, it goes either way."""
    account_id = new_id()
    session.execute(insert(Account.__table__), [
        {"id": account_id, "code": f"{STORE_ACCOUNT}:{owner_id}", "kind": STORE_ACCOUNT, "currency": currency,
         "balance_minor": None, "created_at": now}])
    return account_id


@dataclass(frozen=True, slots=True)
class Posted:
    entry_id: uuid.UUID
    kind: str
    reference: str
    amount_minor: int
    currency: str
    created_at: datetime


def postings_of(session: Session, account_id: uuid.UUID, *, since: datetime | None = None,
                until: datetime | None = None, limit: int | None = None) -> list[Posted]:
    """One account's movements, oldest first: a statement."""
    query = (select(JournalEntry.id, JournalEntry.kind, JournalEntry.reference, Posting.amount_minor,
                    Posting.currency, JournalEntry.created_at)
             .join(Posting, Posting.entry_id == JournalEntry.id).where(Posting.account_id == account_id)
             .order_by(JournalEntry.created_at, JournalEntry.id))
    if since is not None:
        query = query.where(JournalEntry.created_at >= since)
    if until is not None:
        query = query.where(JournalEntry.created_at < until)
    if limit is not None:
        query = query.limit(limit)
    return [Posted(*row) for row in session.execute(query)]


def amounts_in(session: Session, entry_ids: list[uuid.UUID], account_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """What each of these entries posted to one account (a statement's commission column)."""
    if not entry_ids:
        return {}
    rows = session.execute(select(Posting.entry_id, func.sum(Posting.amount_minor))
                           .where(Posting.account_id == account_id, Posting.entry_id.in_(entry_ids))
                           .group_by(Posting.entry_id))
    return {entry_id: int(total) for entry_id, total in rows}  # PostgreSQL sums a BIGINT as NUMERIC


def entry_exists(session: Session, reference: str) -> bool:
    return session.scalars(select(JournalEntry.id).where(JournalEntry.reference == reference)).first() is not None


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    reference: str  # unique: the business event behind the entry, so it can be written only once
    legs: list[Leg]


def post(session: Session, *, kind: str, reference: str, legs: list[Leg], now: datetime) -> uuid.UUID:
    """Write one balanced journal entry; see post_many."""
    return post_many(session, [Entry(kind, reference, legs)], now=now)[0]


def post_many(session: Session, entries: list[Entry], *, now: datetime) -> list[uuid.UUID]:
    """Write balanced journal entries. Tracked accounts move by guarded updates that never go below zero;
    the caller's transaction rolls everything back if one refuses."""
    entry_rows: list[dict] = []
    posting_rows: list[dict] = []
    deltas: list[tuple[uuid.UUID, int]] = []
    for entry in entries:
        legs = [leg for leg in entry.legs if leg.amount.minor != 0]
        totals: dict[str, int] = defaultdict(int)
        for leg in legs:
            totals[leg.amount.currency] += leg.amount.minor
        if any(totals.values()) or not legs:
            raise LedgerUnbalanced(f"entry {entry.reference} sums to {dict(totals)}")
        entry_id = new_id()
        entry_rows.append({"id": entry_id, "kind": entry.kind, "reference": entry.reference, "created_at": now})
        posting_rows += [{"id": new_id(), "entry_id": entry_id, "account_id": leg.account_id,
                          "amount_minor": leg.amount.minor, "currency": leg.amount.currency} for leg in legs]
        deltas += [(leg.account_id, leg.amount.minor) for leg in legs if leg.tracked]
    conn = session.connection()
    for account_id, delta in deltas:
        if conn.execute(_CREDIT if delta > 0 else _DEBIT, {"account_id": account_id, "delta": delta}).rowcount != 1:
            raise InsufficientBalance()
    if entry_rows:
        conn.execute(_INSERT_ENTRY, entry_rows)
        conn.execute(_INSERT_POSTINGS, posting_rows)
    return [row["id"] for row in entry_rows]


_ACCOUNTS = Account.__table__
_CREDIT = (update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("account_id"))
           .values(balance_minor=_ACCOUNTS.c.balance_minor + bindparam("delta")))
# The guard is in the statement: a debit that would go below zero updates no row, whatever runs concurrently.
_DEBIT = _CREDIT.where(_ACCOUNTS.c.balance_minor + bindparam("delta") >= 0)
_INSERT_ENTRY = insert(JournalEntry.__table__)
# RETURNING makes SQLAlchemy batch the rows into one multi-row INSERT ("insertmanyvalues"), a single round trip,
# with the statement compiled once; a hand-built multi-row .values() is compiled again on every call.
_INSERT_POSTINGS = insert(Posting.__table__).returning(Posting.__table__.c.id)


_BALANCES = select(_ACCOUNTS.c.id, _ACCOUNTS.c.balance_minor).where(
    _ACCOUNTS.c.id.in_(bindparam("ids", expanding=True)))


def balances(session: Session, account_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return {row[0]: row[1] for row in session.connection().execute(_BALANCES, {"ids": account_ids})}


def account_balance(session: Session, account_id: uuid.UUID) -> int:
    """Any account's balance from its postings (system accounts have no cached balance)."""
    return int(session.scalars(select(func.coalesce(func.sum(Posting.amount_minor), 0))
                               .where(Posting.account_id == account_id)).one())  # numeric on PostgreSQL


@dataclass
class VerifyReport:
    entries: int = 0
    postings: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> VerifyReport:
    """Recompute every balance from postings and compare: any drift is a problem."""
    report = VerifyReport(
        entries=session.scalars(select(func.count()).select_from(JournalEntry)).one(),
        postings=session.scalars(select(func.count()).select_from(Posting)).one(),
        accounts=session.scalars(select(func.count()).select_from(Account)).one(),
    )
    unbalanced = session.execute(
        select(Posting.entry_id, Posting.currency, func.sum(Posting.amount_minor))
        .group_by(Posting.entry_id, Posting.currency).having(func.sum(Posting.amount_minor) != 0)
    )
    report.problems += [f"entry {e} does not sum to zero in {c}: {s}" for e, c, s in unbalanced]
    sums = (select(Posting.account_id, func.sum(Posting.amount_minor).label("total"))
            .group_by(Posting.account_id).subquery())
    drift = session.execute(
        select(Account.code, Account.balance_minor, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance_minor.is_not(None))
        .where(Account.balance_minor != func.coalesce(sums.c.total, 0))
    )
    report.problems += [f"account {code} caches {cached} but its postings sum to {real}" for code, cached, real in drift]
    negative = session.execute(select(Account.code, Account.balance_minor).where(Account.balance_minor < 0))
    report.problems += [f"account {code} is negative: {bal}" for code, bal in negative]
    mixed = session.execute(
        select(Account.code, Posting.currency).join(Posting, Posting.account_id == Account.id)
        .where(Posting.currency != Account.currency).distinct()
    )
    report.problems += [f"account {code} has a posting in {cur}" for code, cur in mixed]
    return report


def _insert_ignore(session: Session, rows: list[dict]) -> None:
    if not rows:
        return
    session.execute(insert_or_ignore(session, Account.__table__), rows)
