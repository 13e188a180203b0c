"""A store's monthly settlement: what it owed the operator at the start of a month (in the store's time zone), what
the month's counter sales, commission, voids, drawer over/short and remittances changed, what it owed at the end —
and whether that agrees with the ledger.

Signs: the statement speaks of what the store *owes* the operator, which is minus the balance of its ledger account
(STORE_ACCOUNT: a cash sale posts -(price - commission) to it). So:

    owed at the end = owed at the start + cash sales - commission earned - voids (net) + over/short - remittances

Cash sales are the price of the month's cash sales (voided ones included: their void is its own line); commission
is what the month's cash and card sales earned (a card sale's price waits in the card-present clearing, not here);
voids (net) is what the month's voids gave back: the cash sale's price less its commission, and a card sale's
commission taken back; over/short is the drawers closed this month (counted - expected: over, the store owes more;
short, the operator bears it in cash over/short). Card and recharge-card sales are shown for information.

`balances` checks two things: the ledger's own movement in the month equals closing - opening, and the lines built
from the sales, drawers and remittances add up to the same movement. A remittance (money the store paid over) posts
+amount to the store account and -amount to the STORE_REMITTANCE clearing of its currency, once per reference
(the journal entry's reference is UNIQUE)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import Conflict, InvalidInput
from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.store import directory
from simkeep.store import service as stores
from simkeep.store.models import CARD, CASH, VOUCHER, Drawer, Store, StoreSale

REMITTANCE = "store_remittance"  # the journal entry's kind
MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


class MonthInvalid(InvalidInput):
    code, message = "month_invalid", "Write the month as YYYY-MM, between 2000 and 2099."


class RemittanceRecorded(Conflict):
    code, message = "remittance_recorded", "A remittance with this reference is already recorded for this store."


class RemittanceInvalid(InvalidInput):
    code, message = "remittance_invalid", "A remittance is an amount greater than zero with a reference and a reason."


@dataclass(frozen=True, slots=True)
class Tally:
    count: int = 0
    total_minor: int = 0


@dataclass(frozen=True, slots=True)
class Remittance:
    at: datetime
    reference: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Settlement:
    store: Store
    month: date  # its first day
    since: datetime  # the month's first instant in the store's zone, as UTC
    until: datetime  # the next month's first instant
    opening_minor: int  # owed at the start
    cash_sales: Tally
    card_sales: Tally
    voucher_sales: Tally
    commission_minor: int
    voids: Tally  # the sales voided in the month, at their price
    voids_net_minor: int  # what the voids took off what is owed
    over_short_minor: int  # counted - expected, over the drawers closed in the month
    remittances: list[Remittance]
    closing_minor: int  # owed at the end
    ledger_movement_minor: int  # minus the sum of the store account's postings in the month

    @property
    def currency(self) -> str:
        return self.store.currency

    @property
    def remitted_minor(self) -> int:
        return sum(r.amount_minor for r in self.remittances)

    @property
    def computed_closing_minor(self) -> int:
        return (self.opening_minor + self.cash_sales.total_minor - self.commission_minor - self.voids_net_minor
                + self.over_short_minor - self.remitted_minor)

    @property
    def balances(self) -> bool:
        """The ledger moved by closing - opening, and the statement's lines add up to the same."""
        return (self.ledger_movement_minor == self.closing_minor - self.opening_minor
                and self.computed_closing_minor == self.closing_minor)


def parse_month(text: str | None, *, default: date) -> date:
    if not text:
        return default.replace(day=1)
    found = MONTH.match(text.strip())
    if found is None:
        raise MonthInvalid()
    return date(int(found[1]), int(found[2]), 1)


def month_bounds(month: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return (datetime.combine(month, time(), zone).astimezone(ZoneInfo("UTC")),
            datetime.combine(following, time(), zone).astimezone(ZoneInfo("UTC")))


def store_by_code(session: Session, code: str) -> Store:
    store = directory.find(session, code)
    if store is None:
        raise stores.StoreNotFound()
    return store


def settlement(session: Session, store: Store, *, month: date) -> Settlement:
    since, until = month_bounds(month, store.timezone)
    before = -_sum_postings(session, store.account_id, until=since)
    moved = -_sum_postings(session, store.account_id, since=since, until=until)
    after = -_sum_postings(session, store.account_id, until=until)
    sold = list(session.scalars(select(StoreSale).where(StoreSale.store_id == store.id,
                                                        StoreSale.created_at >= since, StoreSale.created_at < until)))
    by_method = {method: Tally(sum(1 for s in sold if s.method == method),
                               sum(s.amount_minor for s in sold if s.method == method))
                 for method in (CASH, CARD, VOUCHER)}
    voided = list(session.scalars(select(StoreSale).where(StoreSale.store_id == store.id,
                                                          StoreSale.voided_at >= since, StoreSale.voided_at < until)))
    voids_net = sum((s.amount_minor - s.commission_minor) if s.method == CASH else -s.commission_minor
                    for s in voided)
    over_short = session.scalar(select(func.coalesce(func.sum(Drawer.difference_minor), 0)).where(
        Drawer.store_id == store.id, Drawer.closed_at >= since, Drawer.closed_at < until))
    prefix = _reference_prefix(store)
    remitted = [Remittance(p.created_at, p.reference.removeprefix(prefix), p.amount_minor)
                for p in ledger.postings_of(session, store.account_id, since=since, until=until)
                if p.kind == REMITTANCE]
    return Settlement(store=store, month=month, since=since, until=until, opening_minor=before,
                      cash_sales=by_method[CASH], card_sales=by_method[CARD], voucher_sales=by_method[VOUCHER],
                      commission_minor=sum(s.commission_minor for s in sold),
                      voids=Tally(len(voided), sum(s.amount_minor for s in voided)), voids_net_minor=voids_net,
                      over_short_minor=int(over_short or 0), remittances=remitted, closing_minor=after,
                      ledger_movement_minor=moved)


def _sum_postings(session: Session, account_id: uuid.UUID, *, since: datetime | None = None,
                  until: datetime | None = None) -> int:
    return sum(p.amount_minor for p in ledger.postings_of(session, account_id, since=since, until=until))


def _reference_prefix(store: Store) -> str:
    return f"{REMITTANCE}:{store.id}:"


def record_remittance(session: Session, *, store: Store, amount: Money, reference: str, actor: str, reason: str,
                      now: datetime) -> uuid.UUID:
    """Record money the store paid over to the operator: +amount to its account (it owes that much less), -amount
    to the store-remittance clearing until the bank shows it. Once per (store, reference): a second time is 409
    remittance_recorded and moves nothing."""
    reference = (reference or "").strip()
    if (amount.minor <= 0 or amount.currency != store.currency or not reference or len(reference) > 80
            or not (reason or "").strip()):
        raise RemittanceInvalid()
    key = _reference_prefix(store) + reference
    if ledger.entry_exists(session, key):
        raise RemittanceRecorded()
    ledger.ensure_system_accounts(session, currencies={store.currency}, now=now)
    try:
        with session.begin_nested():
            entry_id = ledger.post(session, kind=REMITTANCE, reference=key, now=now, legs=[
                Leg(store.account_id, amount),
                Leg(ledger.clearing_account_id(store.currency, ledger.STORE_REMITTANCE), -amount)])
    except IntegrityError as exc:  # the same reference recorded by someone else meanwhile
        raise RemittanceRecorded() from exc
    audit.record(session, actor=actor, action="store.remittance", subject_type="store", subject_id=str(store.id),
                 reason=reason.strip(), details={"amount_minor": amount.minor, "currency": amount.currency,
                                                 "reference": reference}, now=now)
    return entry_id


# -- the CSV -------------------------------------------------------------------------------------------------------

CSV_HEADER = ("store", "month", "line", "count", "amount", "currency")


def csv_bytes(found: Settlement) -> bytes:
    """One row per statement line; amounts in decimal, in the store's currency, as owed to the operator."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    month = found.month.strftime("%Y-%m")

    def row(line: str, count: int | str, minor: int) -> None:
        writer.writerow((found.store.code, month, line, count, Money(minor, found.currency).as_decimal(),
                         found.currency))

    row("opening", "", found.opening_minor)
    row("cash_sales", found.cash_sales.count, found.cash_sales.total_minor)
    row("card_sales", found.card_sales.count, found.card_sales.total_minor)
    row("voucher_sales", found.voucher_sales.count, found.voucher_sales.total_minor)
    row("commission", "", found.commission_minor)
    row("voids", found.voids.count, found.voids.total_minor)
    row("voids_net", "", found.voids_net_minor)
    row("over_short", "", found.over_short_minor)
    for remittance in found.remittances:
        writer.writerow((found.store.code, month, "remittance", _cell(remittance.reference),
                         Money(remittance.amount_minor, found.currency).as_decimal(), found.currency))
    row("remitted", len(found.remittances), found.remitted_minor)
    row("closing", "", found.closing_minor)
    writer.writerow((found.store.code, month, "balances_with_ledger", "", "yes" if found.balances else "no",
                     found.currency))
    return out.getvalue().encode()


def file_name(found: Settlement, extension: str) -> str:
    return f"statement-{found.store.code}-{found.month.strftime('%Y-%m')}.{extension}"


def _cell(text: str) -> str:
    """Text a spreadsheet would not run as a formula (a reference typed by staff could start with =)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
