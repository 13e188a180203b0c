"""Usage debits from the network. The line lock serialises them; the guarded update in the ledger is the last
line of defence: a balance never goes below zero."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.charge import repository
from simkeep.charge.models import KINDS, Charge
from simkeep.core import idempotency
from simkeep.core.errors import (
    InsufficientBalance,
    InvalidAmount,
    InvalidInput,
    LineNotChargeable,
)
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.core.phone import lookup_msisdn
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.line import service as lines
from simkeep.line.models import ACTIVE

MAX_CHARGE_MINOR = 10_000_000


@dataclass(frozen=True, slots=True)
class ChargeResult:
    charge: Charge
    replayed: bool


def charge(session: Session, *, principal: str, idempotency_key: str, msisdn: str, amount_minor: int,
           kind: str, now: datetime, region: str = "FR") -> ChargeResult:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not 0 < amount_minor <= MAX_CHARGE_MINOR:
        raise InvalidAmount()
    number = lookup_msisdn(msisdn, region)
    request_hash = idempotency.fingerprint(number, amount_minor, kind)
    locked = lines.lock_live_line(session, number, request=(Charge.__table__, principal, idempotency_key))
    # An earlier request with this key comes with the lock (one round trip); without a live line, look it up.
    if locked is None:
        earlier = repository.find_by_key(session, principal, idempotency_key)
    else:
        earlier = repository.get(session, locked[0].earlier_id) if locked[0].earlier_id else None
    if (again := idempotency.replay(earlier, request_hash)) is not None:
        return ChargeResult(again, replayed=True)
    if locked is None:
        raise lines.no_live_line(session, number)
    line, operator = locked
    if line.state != ACTIVE or now >= line.validity_ends_at:
        raise LineNotChargeable()
    held = ledger.balances(session, [line.credit_account_id, line.bonus_account_id])
    if held[line.credit_account_id] + held[line.bonus_account_id] < amount_minor:
        raise InsufficientBalance()
    from_bonus = min(held[line.bonus_account_id], amount_minor)  # promotional credit is spent first
    amount = Money(amount_minor, operator.currency)
    bonus_part = Money(from_bonus, operator.currency)
    charge_id = new_id()
    entry_id = ledger.post(session, kind="charge", reference=f"charge:{charge_id}", now=now, legs=[
        Leg(line.bonus_account_id, -bonus_part, tracked=True),
        Leg(line.credit_account_id, -(amount - bonus_part), tracked=True),
        Leg(ledger.system_account_id(ledger.REVENUE, operator.currency), amount),
    ])
    row = dict(id=charge_id, principal=principal, idempotency_key=idempotency_key, request_hash=request_hash,
               line_id=line.id, msisdn=number, kind=kind, amount_minor=amount_minor, bonus_used_minor=from_bonus,
               currency=operator.currency, journal_entry_id=entry_id, created_at=now)
    repository.add(session, row)
    return ChargeResult(Charge(**row), replayed=False)


def for_line(session: Session, line_id, *, before: datetime | None = None, limit: int = 50) -> list[Charge]:
    return repository.for_line(session, line_id, before=before, limit=limit)
