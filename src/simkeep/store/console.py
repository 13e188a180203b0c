"""The agent console's use cases (the /counter pages call these; the sale itself is store.service.sell): look a
number up, record the customer's ID check, recommend the offer that keeps the number past a date, and list a
store's sales. Everything is scoped to the member's store: a sale of another store is a 403 (`OtherStore`).

ID checks are minimised (DESIGN §3.12, the law of 13 June 2025): the document's type, its issuing country (ISO 3166
alpha-2) and its last four characters, who checked and when — never an image, never the full number. A longer
number is refused, not cut: the page never keeps what it should not have been given. A sale needs an ID check of
the same line at the same store in the last ID_CHECK_MINUTES minutes."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from babel import Locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.catalog.models import Offer, Operator
from simkeep.core.clock import end_of_local_day, zone
from simkeep.core.errors import InvalidInput, LineNotRenewable
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.core.phone import lookup_msisdn
from simkeep.line import rules
from simkeep.line import service as lines
from simkeep.line.models import RENEWABLE, Line
from simkeep.receipt import service as receipts
from simkeep.receipt.models import Receipt
from simkeep.staff.models import StaffAccount
from simkeep.store import service as stores
from simkeep.store.models import ID_DOCUMENTS, IdCheck, Store, StoreSale
from simkeep.topup import service as topups
from simkeep.topup.models import TopUp

ID_CHECK_MINUTES = 30  # a sale needs an ID check of this line at this store this recently
RENEWALS_SHOWN = 5
LAST4 = re.compile(r"^[A-Z0-9]{4}$")
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"})  # CLDR's groupings and private codes


class IdDocumentInvalid(InvalidInput):
    code, message = "id_document_invalid", "Choose the kind of document the customer showed."


class IdCountryInvalid(InvalidInput):
    code, message = "id_country_invalid", "Choose the country that issued the document."


class IdLast4Invalid(InvalidInput):
    code, message = "id_last4_invalid", "Type only the last 4 letters or digits of the document's number."


class IdCheckRequired(InvalidInput):
    code, message = "id_check_required", "Check the customer's ID first: no sale without a recent ID check."


class RecommendDateInvalid(InvalidInput):
    code, message = "recommend_date_invalid", "Give a date from today on, within the operator's longest validity."


# -- looking a number up --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Renewal:
    """One of the line's last top-ups, whatever the channel."""

    at: datetime
    channel: str
    offer_id: str
    amount: Money
    validity_ends_at: datetime
    voided: bool  # a counter sale voided since


@dataclass(frozen=True, slots=True)
class LineFacts:
    line: Line
    operator: Operator
    balance: Money
    renewals: list[Renewal]

    @property
    def renewable(self) -> bool:
        return self.line.state in RENEWABLE


def look_up(session: Session, *, msisdn: str, region: str = "FR") -> LineFacts:
    """The facts an agent needs about a number typed in any format: state, balance, validity end, number-loss date
    and the last renewals. An invalid number raises InvalidMsisdn; a number without a line LineNotFound (or
    LineNotRenewable when its last line has ended and gone back to the pool)."""
    number = lookup_msisdn(msisdn, region)
    line = lines.find_live_line(session, number)
    if line is None:
        raise lines.no_live_line(session, number)
    return facts(session, line)


def facts(session: Session, line: Line) -> LineFacts:
    view = lines.view(session, line)
    done = topups.for_line(session, line.id, limit=RENEWALS_SHOWN)
    voided = set(session.scalars(select(StoreSale.topup_id).where(
        StoreSale.topup_id.in_([t.id for t in done]), StoreSale.voided_at.is_not(None)))) if done else set()
    return LineFacts(line, view.operator, view.balance, [
        Renewal(t.created_at, t.channel, t.offer_id, Money(t.price_minor, t.currency), t.validity_ends_at,
                t.id in voided) for t in done])


# -- ID checks ------------------------------------------------------------------------------------------------------

@cache
def countries() -> frozenset[str]:
    """ISO 3166 alpha-2 codes (CLDR's territories, without its groupings and private-use codes)."""
    codes = (str(code) for code in Locale("en").territories)
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES)


def country_names(locale: str) -> list[tuple[str, str]]:
    """(code, name in `locale`) for the ID check form, sorted by name."""
    names = Locale.parse(locale).territories
    return sorted(((code, names.get(code, code)) for code in countries()), key=lambda pair: pair[1])


def record_id_check(session: Session, *, store_id: uuid.UUID, line: Line, document_type: str, issuing_country: str,
                    last4: str, checked_by: str, now: datetime) -> IdCheck:
    """That the agent saw the customer's ID: its type, issuing country and last four characters (spaces and dashes
    dropped, upper case). More than four characters is refused: the full number is never taken."""
    if document_type not in ID_DOCUMENTS:
        raise IdDocumentInvalid()
    country = (issuing_country or "").strip().upper()
    if country not in countries():
        raise IdCountryInvalid()
    tail = re.sub(r"[\s\-./]", "", last4 or "").upper()
    if not LAST4.match(tail):
        raise IdLast4Invalid()
    row = IdCheck(id=new_id(), store_id=store_id, line_id=line.id, document_type=document_type,
                  issuing_country=country, last4=tail, checked_by=checked_by, checked_at=now)
    session.add(row)
    session.flush()
    return row


def recent_id_check(session: Session, *, store_id: uuid.UUID, line_id: uuid.UUID, now: datetime,
                    minutes: int = ID_CHECK_MINUTES) -> IdCheck | None:
    return session.scalars(select(IdCheck).where(
        IdCheck.store_id == store_id, IdCheck.line_id == line_id, IdCheck.checked_at > now - timedelta(minutes=minutes),
        IdCheck.checked_at <= now).order_by(IdCheck.checked_at.desc()).limit(1)).first()


def id_checks_for_line(session: Session, line_id: uuid.UUID, *, upto: datetime | None = None,
                       limit: int = 50) -> list[IdCheck]:
    """The ID checks of the line made at or before `upto`, newest first (the back office's line timeline)."""
    stmt = select(IdCheck).where(IdCheck.line_id == line_id)
    if upto is not None:
        stmt = stmt.where(IdCheck.checked_at <= upto)
    return list(session.scalars(stmt.order_by(IdCheck.checked_at.desc(), IdCheck.id.desc()).limit(limit)))


def require_id_check(session: Session, *, store_id: uuid.UUID, msisdn: str, now: datetime, region: str = "FR",
                     minutes: int = ID_CHECK_MINUTES) -> Line:
    """The line of `msisdn` if this store checked its customer's ID in the last `minutes`; else IdCheckRequired."""
    number = lookup_msisdn(msisdn, region)
    line = lines.find_live_line(session, number)
    if line is None:
        raise lines.no_live_line(session, number)
    if recent_id_check(session, store_id=store_id, line_id=line.id, now=now, minutes=minutes) is None:
        raise IdCheckRequired()
    return line


# -- recommending an offer ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Option:
    """An offer as it would land on this line today, priced for the counter (channel `agent`) by the one rule every
    channel uses: `price` is what the customer would pay now, with the campaigns in `applied`."""

    offer: Offer
    list_price: Money
    price: Money
    bonus: Money  # the offer's bonus and the campaigns'
    bonus_days: int
    applied: tuple[str, ...]  # the names of the campaigns that apply
    validity_ends_at: datetime
    number_loss_at: datetime


@dataclass(frozen=True, slots=True)
class Recommendation:
    until: date
    keeps: bool  # `best` keeps the number beyond `until`
    best: Option | None  # None: every offer is past the operator's validity cap
    already_kept: bool  # the number is kept beyond `until` even without a recharge
    capped: list[str]  # offers left out: they would pass the validity cap


def options(session: Session, line: Line, *, now: datetime,
            code: str | None = None) -> tuple[list[Option], list[str]]:
    """Every offer of the line's operator as it would land today at the counter, cheapest to pay first (quoted
    prices: the campaigns live now, and `code` if the customer gave one); and the offers over the cap."""
    operator = catalog.get_operator(session, line.operator_id)
    offers = list(session.scalars(select(Offer).where(Offer.operator_id == operator.id)
                                  .order_by(Offer.price_minor, Offer.id)))
    by_id = {offer.id: offer for offer in offers}
    found = [Option(by_id[p.offer.id], Money(p.priced.list_minor, operator.currency), Money(p.priced.price_minor, operator.currency),
                    Money(p.priced.bonus_minor, operator.currency), p.priced.bonus_days,
                    tuple(a.name for a in p.priced.applied), p.validity_ends_at,
                    rules.stages(operator, p.validity_ends_at).number_loss_at)
             for p in topups.preview(session, line=line, operator=operator, offers=offers, channel=stores.CHANNEL,
                                     now=now, code=code)]
    priced = {o.offer.id for o in found}
    capped = [o.id for o in offers if o.id not in priced]
    return sorted(found, key=lambda o: (o.price.minor, o.offer.price_minor, o.offer.id)), capped


def recommend(session: Session, *, line: Line, until: date, now: datetime) -> Recommendation:
    """The cheapest offer of the line's operator that keeps the number beyond the end of `until` (a day in the
    operator's zone), at the price the counter would charge now (campaigns included): the validity it would buy
    (bonus days included), run through the operator's grace and suspended days, must reach
    past that day's end. If none does, the one that keeps it longest, and `keeps` is False."""
    operator = catalog.get_operator(session, line.operator_id)
    if line.state not in RENEWABLE or now >= line.number_loss_at:
        raise LineNotRenewable()
    today = now.astimezone(zone(operator.timezone)).date()
    if until < today or until > today + timedelta(days=366 * 10):
        raise RecommendDateInvalid()
    day_end = end_of_local_day(datetime.combine(until, time(12), tzinfo=zone(operator.timezone)),
                               operator.timezone)
    found, capped = options(session, line, now=now)
    keeping = [o for o in found if o.number_loss_at > day_end]
    best: Option | None
    if keeping:
        best = min(keeping, key=lambda o: (o.price.minor, -o.offer.validity_days, o.offer.id))
    else:
        best = max(found, key=lambda o: (o.number_loss_at, -o.price.minor), default=None)
    return Recommendation(until=until, keeps=bool(keeping), best=best,
                          already_kept=line.number_loss_at > day_end, capped=capped)


# -- the store's sales ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SaleRow:
    sale: StoreSale
    receipt: Receipt
    agent: str  # the username of who sold it


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    sales: list[SaleRow]

    @property
    def kept(self) -> list[SaleRow]:
        return [row for row in self.sales if row.sale.voided_at is None]

    def total(self, method: str | None = None) -> int:
        return sum(r.sale.amount_minor for r in self.kept if method is None or r.sale.method == method)


def store_day(store: Store, now: datetime) -> date:
    return now.astimezone(zone(store.timezone)).date()


def sales_of(session: Session, *, store_id: uuid.UUID, day: date) -> Day:
    """A store's sales on one day of its own time zone, newest first, voided ones included."""
    store = stores.get_store(session, store_id)
    tz = zone(store.timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    rows = session.execute(
        select(StoreSale, Receipt, StaffAccount.username)
        .join(Receipt, Receipt.id == StoreSale.receipt_id)
        .join(StaffAccount, StaffAccount.id == StoreSale.agent_id)
        .where(StoreSale.store_id == store.id, StoreSale.created_at >= start, StoreSale.created_at < end)
        .order_by(StoreSale.created_at.desc(), StoreSale.id.desc()))
    return Day(day, [SaleRow(sale, receipt, username) for sale, receipt, username in rows])


@dataclass(frozen=True, slots=True)
class SaleDetail:
    sale: StoreSale
    receipt: Receipt
    topup: TopUp
    operator: Operator
    offer: Offer
    agent: str

    def voidable(self, now: datetime, window: timedelta) -> bool:
        """Whether a store manager may still void it (the service checks again, under lock)."""
        return self.sale.voided_at is None and self.sale.method != "voucher" and now - self.sale.created_at <= window


def sale_detail(session: Session, *, sale_id: uuid.UUID, store_id: uuid.UUID) -> SaleDetail:
    """One sale of `store_id`: 404 when there is none, 403 when it is another store's."""
    sale = stores.get_sale(session, sale_id, store_id=store_id)
    receipt = session.get_one(Receipt, sale.receipt_id)
    topup = topups.get_topup(session, sale.topup_id)
    operator = catalog.get_operator(session, receipt.operator_id)
    offer = catalog.get_offer(session, sale.offer_id, operator)
    agent = session.get_one(StaffAccount, sale.agent_id).username
    return SaleDetail(sale, receipt, topup, operator, offer, agent)


def receipt_token(secret: str, detail: SaleDetail | SaleRow) -> str:
    return receipts.token_for(secret, detail.receipt.id)
