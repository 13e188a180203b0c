"""A reseller's statement as people read it: on its own /reseller pages, in the back office and as a CSV.

reseller.service.statement gives the float's movements with their commission and running balance; this names each
movement the way the reseller knows it (the deposit's bank reference, the serials it bought, the masked number it
recharged) and never shows more of a subscriber than core.phone.masked."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.core import clock
from simkeep.core.errors import ResellerNotFound
from simkeep.core.money import Money
from simkeep.core.phone import masked
from simkeep.db import Database
from simkeep.ledger import service as ledger
from simkeep.locale.languages import gettext
from simkeep.reseller import service as resellers
from simkeep.reseller.models import Reseller
from simkeep.topup.models import TopUp
from simkeep.voucher.models import EPIN, VoucherPurchase
from simkeep.web.pages import N_, render
from simkeep.web.params import calendar_day

BAD_PERIOD = N_("This is not a valid period. Write the days as YYYY-MM-DD, between 2000 and 2099, the first one "
                "not after the last.")
# What each kind of movement is called, in the CSV (stable words) and on the pages (translated).
DEPOSIT, EPINS, CARDS, TOPUP = "deposit", "epins", "cards", "topup"
KIND_NAMES = {DEPOSIT: N_("Deposit"), EPINS: N_("e-PINs bought"), CARDS: N_("Cards bought"),
              TOPUP: N_("Line topped up")}
NOT_FOUND = N_("No reseller has this code.")
First = Annotated[str | None, Query(alias="from", description="YYYY-MM-DD, the period's first day")]
Last = Annotated[str | None, Query(alias="to", description="YYYY-MM-DD, the period's last day (included)")]
CSV_HEADER = ("date", "kind", "reference", "amount", "commission", "balance", "currency")


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date  # included

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)


def period(first: str | None, last: str | None, *, today: date) -> Period | None:
    """The days asked for (default: this month so far), or None when they are not a period."""
    start = calendar_day(first) if first else today.replace(day=1)
    end = calendar_day(last) if last else today
    if start is None or end is None or start > end:
        return None
    return Period(start, end)



@dataclass(frozen=True, slots=True)
class Row:
    at: datetime
    kind: str  # DEPOSIT, EPINS, CARDS, TOPUP, or the ledger's kind for anything else
    reference: str
    amount: Money
    commission: Money
    balance: Money


@dataclass(frozen=True, slots=True)
class Statement:
    reseller: Reseller
    period: Period | None
    opening: Money
    rows: list[Row]

    @property
    def closing(self) -> Money:
        return self.rows[-1].balance if self.rows else self.opening

    @property
    def commission(self) -> Money:
        return Money(sum(r.commission.minor for r in self.rows), self.reseller.currency)


def statement(session: Session, reseller: Reseller, when: Period | None) -> Statement:
    since, until = (when.since, when.until) if when else (None, None)
    lines = resellers.statement(session, reseller, since=since, until=until)
    if lines:
        opening = lines[0].balance - lines[0].amount
    else:
        opening = Money(sum(p.amount_minor for p in ledger.postings_of(session, reseller.float_account_id,
                                                                        until=since)) if since else 0,
                        reseller.currency)
    names = _references(session, reseller, [line.reference for line in lines])
    rows = [Row(line.at, *names.get(line.reference, (line.kind, line.reference.partition(":")[2])), line.amount,
                line.commission, line.balance) for line in lines]
    return Statement(reseller, when, opening, rows)


def recent_commissions(session: Session, reseller: Reseller, *, now: datetime, limit: int = 10) -> list[Row]:
    """The last sales that earned a commission (90 days back at most), newest first."""
    found = statement(session, reseller, Period((now - timedelta(days=90)).date(), now.date()))
    return [row for row in reversed(found.rows) if row.commission.minor][:limit]


def _references(session: Session, reseller: Reseller, references: list[str]) -> dict[str, tuple[str, str]]:
    """(kind, reference as the reseller knows it) for each ledger reference of its float's entries."""
    named: dict[str, tuple[str, str]] = {}
    purchases: dict[uuid.UUID, str] = {}
    topups: dict[uuid.UUID, str] = {}
    deposit_prefix = f"reseller_deposit:{reseller.id}:"
    for reference in references:
        kind, _, rest = reference.partition(":")
        if reference.startswith(deposit_prefix):
            named[reference] = (DEPOSIT, reference.removeprefix(deposit_prefix))
        elif kind == "voucher_sale" and (purchase_id := _uuid(rest)):
            purchases[purchase_id] = reference
        elif kind == "topup" and (topup_id := _uuid(rest)):
            topups[topup_id] = reference
    if purchases:
        for purchase in session.scalars(select(VoucherPurchase).where(VoucherPurchase.id.in_(purchases))):
            named[purchases[purchase.id]] = (EPINS if purchase.kind == EPIN else CARDS, serials(purchase))
    if topups:
        for topup_id, msisdn in session.execute(select(TopUp.id, TopUp.msisdn).where(TopUp.id.in_(topups))):
            named[topups[topup_id]] = (TOPUP, masked(msisdn))
    return named


def serials(purchase: VoucherPurchase) -> str:
    return f"{purchase.serial_from}-{purchase.serial_to}"


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def csv_bytes(found: Statement) -> bytes:
    """date (UTC, ISO 8601), kind, reference, amount, commission, balance (decimal, in the float's currency)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in found.rows:
        writer.writerow((row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), row.kind,
                         row.reference if row.kind in (EPINS, CARDS, TOPUP) else _cell(row.reference),
                         row.amount.as_decimal(), row.commission.as_decimal(), row.balance.as_decimal(),
                         row.amount.currency))
    return out.getvalue().encode()


def csv_name(found: Statement) -> str:
    days = f"{found.period.first.isoformat()}_{found.period.last.isoformat()}" if found.period else "all"
    return f"statement-{found.reseller.code}-{days}.csv"


def _cell(text: str) -> str:
    """Text a spreadsheet would not run as a formula (a deposit reference typed by staff could start with =)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(request: Request, db: Database, lang: str, find: Callable[[Session], Reseller], first: str | None,
                 last: str | None) -> Response:
    """The statement of the reseller `find` gives, for the days asked, as a file to download."""
    when = period(first, last, today=clock.now().date())
    if when is None:
        return render(request, "portal/error.html", status=422, error=gettext(lang, BAD_PERIOD))
    try:
        with db.transaction(write=False) as session:
            found = statement(session, find(session), when)
    except ResellerNotFound:
        return render(request, "portal/error.html", status=404, error=gettext(lang, NOT_FOUND))
    return Response(csv_bytes(found), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{csv_name(found)}"'})
