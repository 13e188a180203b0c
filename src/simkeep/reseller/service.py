"""Resellers: a prepaid float in the ledger, deposits into it, and top-ups of a customer's line paid from it.

The float is a tracked ledger account: every purchase is a guarded debit in the purchase's own transaction, so it
never goes below zero however many requests race. A reseller's discount is its commission: on every sale the
float pays face value less the discount, and the discount is booked to commission expense."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import (
    InsufficientBalance,
    InsufficientFloat,
    InvalidAmount,
    InvalidInput,
    ResellerExists,
    ResellerNotFound,
)
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.promotion.models import Quote
from simkeep.reseller.models import Reseller
from simkeep.topup import service as topups
from simkeep.topup.service import TopUpResult

CHANNEL = "reseller"
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
MAX_DISCOUNT_BP = 5_000  # 50 %: anything more is a typo


def create(session: Session, *, code: str, name: str, currency: str, discount_bp: int, actor: str, reason: str,
           now: datetime, email: str | None = None) -> Reseller:
    code = code.strip().upper()
    if not _CODE.match(code):
        raise InvalidInput("a reseller code is 2 to 32 letters, digits, - or _ (for example TABAC-RIVOLI)")
    if not 0 <= discount_bp <= MAX_DISCOUNT_BP:
        raise InvalidInput(f"the discount is 0 to {MAX_DISCOUNT_BP} basis points (0 to 50 %)")
    if not name.strip():
        raise InvalidInput("a reseller needs a name")
    if session.scalars(select(Reseller.id).where(Reseller.code == code)).first() is not None:
        raise ResellerExists()
    reseller_id = new_id()
    ledger.ensure_system_accounts(session, currencies={currency}, now=now)
    row = dict(id=reseller_id, code=code, name=name.strip()[:120], currency=currency, discount_bp=discount_bp,
               float_account_id=ledger.open_float_account(session, owner_id=reseller_id, currency=currency, now=now),
               email=email or None, created_at=now, disabled_at=None)
    session.execute(insert(Reseller.__table__), [row])
    audit.record(session, actor=actor, action="reseller.create", subject_type="reseller", subject_id=code,
                 reason=reason, now=now, details={"discount_bp": discount_bp, "currency": currency})
    return Reseller(**row)


def by_code(session: Session, code: str) -> Reseller:
    found = session.scalars(select(Reseller).where(Reseller.code == code.strip().upper())).first()
    if found is None or found.disabled_at is not None:
        raise ResellerNotFound()
    return found


def any_by_code(session: Session, code: str) -> Reseller:
    """A reseller, disabled or not (the back office still shows a disabled one's history)."""
    found = session.scalars(select(Reseller).where(Reseller.code == code.strip().upper())).first()
    if found is None:
        raise ResellerNotFound()
    return found


def get(session: Session, reseller_id: uuid.UUID) -> Reseller:
    found = session.get(Reseller, reseller_id)
    if found is None or found.disabled_at is not None:
        raise ResellerNotFound()
    return found


def list_all(session: Session) -> list[Reseller]:
    return list(session.scalars(select(Reseller).order_by(Reseller.code)))


def float_balance(session: Session, reseller: Reseller) -> Money:
    return Money(ledger.balances(session, [reseller.float_account_id])[reseller.float_account_id], reseller.currency)


def split(reseller: Reseller, face: Money) -> tuple[Money, Money]:
    """(what the float pays, the commission) for `face` worth sold: the discount rounded down to the minor unit."""
    commission = Money(face.minor * reseller.discount_bp // 10_000, face.currency)
    return face - commission, commission


@dataclass(frozen=True, slots=True)
class Deposit:
    entry_id: uuid.UUID | None
    amount: Money
    recorded: bool  # False: this reference was recorded before, nothing moved this time


def deposit(session: Session, *, reseller: Reseller, amount: Money, reference: str, actor: str, reason: str,
            now: datetime) -> Deposit:
    """Money the reseller paid in (a bank transfer, cash at the head office), credited to its float once per
    reference: a bank statement read twice does not pay twice."""
    if amount.minor <= 0:
        raise InvalidAmount()
    if amount.currency != reseller.currency:
        raise InvalidInput(f"this reseller's float is in {reseller.currency}")
    reference = reference.strip()
    if not 1 <= len(reference) <= 80:
        raise InvalidInput("a deposit needs its reference (the bank transfer's, or a receipt number), 80 characters at most")
    key = f"reseller_deposit:{reseller.id}:{reference}"
    if ledger.entry_exists(session, key):
        return Deposit(None, amount, recorded=False)
    entry_id = ledger.post(session, kind="reseller_deposit", reference=key, now=now, legs=[
        Leg(reseller.float_account_id, amount, tracked=True),
        Leg(ledger.clearing_account_id(amount.currency, CHANNEL), -amount)])
    audit.record(session, actor=actor, action="reseller.deposit", subject_type="reseller", subject_id=reseller.code,
                 reason=reason, now=now, details={"amount": amount.to_dict(), "reference": reference})
    return Deposit(entry_id, amount, recorded=True)


def top_up_line(session: Session, *, reseller: Reseller, principal: str, idempotency_key: str, msisdn: str,
                offer_id: str, now: datetime, region: str = "FR", quote_id: str | None = None) -> TopUpResult:
    """A customer's line recharged by the reseller, paid from its float (channel `reseller`, commission booked).
    Priced by the one rule every channel uses: `quote_id` (a quote from `quote`) is charged exactly, else the
    renewal is priced now. The float pays the price actually charged less the reseller's commission on it."""
    commission_account = ledger.system_account_id(ledger.COMMISSION, reseller.currency)

    def from_float(price: Money) -> list[Leg]:
        if price.currency != reseller.currency:
            raise InvalidInput(f"this offer is sold in {price.currency}; the float is in {reseller.currency}")
        paid, commission = split(reseller, price)
        return [Leg(reseller.float_account_id, -paid, tracked=True), Leg(commission_account, -commission)]

    try:
        return topups.top_up(session, principal=principal, idempotency_key=idempotency_key, msisdn=msisdn,
                             offer_id=offer_id, channel=CHANNEL, now=now, region=region, funding=from_float,
                             notify={"reseller": reseller.name}, quote_id=quote_id)
    except InsufficientBalance:
        raise InsufficientFloat() from None


def quote(session: Session, *, reseller: Reseller, msisdn: str, offer_id: str, now: datetime, region: str = "FR",
          minutes: int = 15) -> tuple[Quote, Money, Money]:
    """The price of this renewal through the reseller now (channel `reseller`), held for `minutes`; with (what the
    float would pay, the commission) on that price."""
    found = topups.quote(session, msisdn=msisdn, offer_id=offer_id, channel=CHANNEL, now=now, region=region,
                         minutes=minutes)
    paid, commission = split(reseller, Money(found.price_minor, found.currency))
    return found, paid, commission


def costs(session: Session, reseller: Reseller, entry_id: uuid.UUID) -> tuple[Money, Money]:
    """(what the float paid, the commission earned) in one journal entry of this reseller's, as booked: a replay
    answers what was paid then, even if the discount changed since."""
    commission_account = ledger.system_account_id(ledger.COMMISSION, reseller.currency)
    paid = ledger.amounts_in(session, [entry_id], reseller.float_account_id).get(entry_id, 0)
    commission = ledger.amounts_in(session, [entry_id], commission_account).get(entry_id, 0)
    return Money(-paid, reseller.currency), Money(-commission, reseller.currency)


def balance_at(session: Session, reseller: Reseller, at: datetime) -> Money:
    """The float just before `at` (a statement's opening balance)."""
    return Money(sum(p.amount_minor for p in ledger.postings_of(session, reseller.float_account_id, until=at)),
                 reseller.currency)


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    kind: str  # reseller_deposit, voucher_sale, topup
    reference: str
    amount: Money  # what moved on the float (+ in, - out)
    commission: Money  # the discount earned on it
    balance: Money  # the float after it


def statement(session: Session, reseller: Reseller, *, since: datetime | None = None,
              until: datetime | None = None) -> list[StatementLine]:
    """The float's movements, oldest first, each with its commission and the running balance."""
    opening = balance_at(session, reseller, since).minor if since is not None else 0
    moves = ledger.postings_of(session, reseller.float_account_id, since=since, until=until)
    earned = ledger.amounts_in(session, [m.entry_id for m in moves],
                               ledger.system_account_id(ledger.COMMISSION, reseller.currency))
    lines, balance = [], opening
    for move in moves:
        balance += move.amount_minor
        lines.append(StatementLine(move.created_at, move.kind, move.reference, Money(move.amount_minor, move.currency),
                                   Money(-earned.get(move.entry_id, 0), move.currency), Money(balance, move.currency)))
    return lines


def disable(session: Session, *, reseller: Reseller, actor: str, reason: str, now: datetime) -> None:
    session.execute(update(Reseller).where(Reseller.id == reseller.id).values(disabled_at=now))
    audit.record(session, actor=actor, action="reseller.disable", subject_type="reseller", subject_id=reseller.code,
                 reason=reason, now=now)
