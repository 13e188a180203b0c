"""Cashback, through the ledger (issue 13 item 4).

Partners. A cashback or affiliate site sends payers with its code in the link (`?partner=CODE`, the API's
`partner`); the quote keeps it (`Quote.partner_code`). When `topup.top_up` pays such a quote and the code is an
active partner's, the renewal becomes a conversion in the same transaction (UNIQUE per top-up, so a replayed
payment webhook or a repeated request makes one): the commission (a percentage of the price paid and/or a fixed
amount per renewal) is owed to the partner — the ledger moves it from marketing expense to partner commissions
payable — and the partner hears of it by a signed postback (`cashback.conversion`), delivered from the outbox with
the webhooks' retries and signature (`Simkeep-Signature: t=...,v1=HMAC-SHA256(secret, "t.body")`). A refund or a
store void of the renewal reverses it: the ledger entry is reversed and `cashback.conversion_reversed` is sent.
A conversion is `pending` during the cooling-off days, then `confirmed` by the worker; both can be reversed.
A partial refund reverses the whole conversion: the renewal was not the clean sale the commission pays for.

Customers. A campaign's `cashback_percent` benefit (priced in pricing.py, counted in the campaign's budget) is
recorded with the top-up as a customer cashback that waits `SIMKEEP_CASHBACK_COOLING_DAYS`; the worker then
credits it as bonus credit to the line (promotion expense -> the line's bonus account; validity unchanged), once:
the row moves from `waiting` by a conditional UPDATE and the entry's reference is UNIQUE. A refund (or void)
before then cancels it: nothing is ever credited. A refund after it claws back what is left of the bonus, up to
the cashback (`clawed_back_minor`); what the subscriber has already spent is recorded as lost (`lost_minor`)
and stays in promotion expense — the bonus balance never goes below zero.

Locks: the line first (the top-up, the refund and the void hold it), then the cashback or conversion row."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.catalog.models import Operator
from simkeep.core.errors import Conflict, InvalidInput, NotFound
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.line import service as lines
from simkeep.notification import outbox
from simkeep.promotion.models import (
    CANCELLED,
    CLAWED_BACK,
    CONFIRMED,
    CREDITED,
    PARTNER_ACTIVE,
    PARTNER_PAUSED,
    PENDING,
    REVERSED,
    WAITING,
    CustomerCashback,
    Partner,
    PartnerConversion,
    Quote,
)
from simkeep.promotion.pricing import normalise_code

CONVERSION, CONVERSION_REVERSED = "cashback.conversion", "cashback.conversion_reversed"
POSTBACK_TOPICS = (CONVERSION, CONVERSION_REVERSED)
CREDITED_TOPIC = "cashback.credited"  # the subscriber's SMS (and e-mail) when the cashback lands
COOLING_DAYS = 14  # SIMKEEP_CASHBACK_COOLING_DAYS
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
MAX_PERCENT_BP = 5_000  # a commission above half the price is a typo


class PartnerNotFound(NotFound):
    code, message = "partner_not_found", "No partner with this code."


class PartnerExists(Conflict):
    code, message = "partner_exists", "A partner with this code already exists."


# -- partners --------------------------------------------------------------------------------------------------------

def create_partner(session: Session, *, code: str, name: str, percent_bp: int = 0, fixed_minor: int = 0,
                   currency: str | None = None, postback_url: str | None = None, actor: str, reason: str,
                   now: datetime) -> tuple[Partner, str]:
    """A new active partner and its signing secret (shown once: give it to the partner to check postbacks).
    Raises InvalidInput naming the field, PartnerExists."""
    code = (normalise_code(code) or "")
    name, postback_url = name.strip(), (postback_url or "").strip() or None
    problems = [
        not CODE.match(code) and "code: 2 to 32 letters, digits, - or _",
        (not name or len(name) > 120) and "name: 1 to 120 characters",
        not 0 <= percent_bp <= MAX_PERCENT_BP and "percent: 0 to 50",
        fixed_minor < 0 and "fixed: 0 or more",
        fixed_minor > 0 and not currency and "currency: needed for a fixed amount",
        percent_bp == 0 and fixed_minor == 0 and "commission: a percentage, a fixed amount or both",
        postback_url is not None and (not postback_url.startswith(("https://", "http://")) or len(postback_url) > 500)
        and "postback_url: an http(s) URL",
        not reason.strip() and "reason: kept in the audit log",
    ]
    if found := [p for p in problems if p]:
        raise InvalidInput("; ".join(found))
    secret = f"pbsec_{secrets.token_urlsafe(24)}"
    partner = Partner(id=new_id(), code=code, name=name, percent_bp=percent_bp, fixed_minor=fixed_minor,
                      currency=currency if fixed_minor else None, postback_url=postback_url, secret=secret,
                      state=PARTNER_ACTIVE, created_by=actor, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(partner)
            session.flush()
    except IntegrityError as exc:
        raise PartnerExists() from exc
    # A database upgraded to this version has no partner payable or marketing expense accounts until the catalog is
    # loaded again: open them now, in every currency renewals are sold in (a new currency gets them with the catalog).
    ledger.ensure_system_accounts(session, currencies=set(session.scalars(select(Operator.currency).distinct())),
                                  now=now)
    audit.record(session, actor=actor, action="partner.create", subject_type="partner", subject_id=code,
                 reason=reason.strip(), details={"name": name, "percent_bp": percent_bp, "fixed_minor": fixed_minor,
                                                 "currency": partner.currency, "postback_url": postback_url}, now=now)
    return partner, secret


def set_state(session: Session, code: str, *, active: bool, actor: str, reason: str, now: datetime) -> Partner:
    """Pause (its code stops attributing renewals; what it earned stays) or resume a partner (audited)."""
    partner = partner_by_code(session, code)
    partner.state, partner.updated_at = (PARTNER_ACTIVE if active else PARTNER_PAUSED), now
    audit.record(session, actor=actor, action="partner.resume" if active else "partner.pause",
                 subject_type="partner", subject_id=partner.code, reason=reason, now=now)
    return partner


def partner_by_code(session: Session, code: str) -> Partner:
    partner = session.scalars(select(Partner).where(Partner.code == normalise_code(code))).first()
    if partner is None:
        raise PartnerNotFound()
    return partner


def list_partners(session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.code)))


def commission(partner: Partner, paid: Money) -> Money:
    """The partner's share of one renewal: the percentage of the price paid, rounded half up to the minor unit,
    plus the fixed amount when it is in the renewal's currency (a fixed amount in euros earns nothing on a
    renewal paid in Hong Kong dollars)."""
    share = (paid.minor * partner.percent_bp + 5_000) // 10_000
    fixed = partner.fixed_minor if partner.currency == paid.currency else 0
    return Money(share + fixed, paid.currency)


def postback_secret(session: Session, data: dict) -> str | None:
    """The key a postback is signed with: its partner's secret (named by the event's `data.partner`)."""
    code = (data.get("data") or {}).get("partner")
    if not code:
        return None
    return session.scalar(select(Partner.secret).where(Partner.code == code))


# -- a renewal is paid ------------------------------------------------------------------------------------------------

def record_paid(session: Session, quote: Quote, *, topup_id: uuid.UUID, price_minor: int, now: datetime) -> None:
    """Called by `topup.top_up` in its transaction (the line locked) when the quote paid has a partner code or
    cashback. An unknown or paused partner's code attributes nothing (the payer is not refused for it)."""
    if quote.partner_code:
        partner = session.scalars(select(Partner).where(Partner.code == quote.partner_code,
                                                        Partner.state == PARTNER_ACTIVE)).first()
        if partner is not None:
            _convert(session, partner, quote, topup_id=topup_id, paid=Money(price_minor, quote.currency), now=now)
    if quote.cashback_minor > 0:
        session.add(CustomerCashback(
            id=new_id(), topup_id=topup_id, quote_id=quote.id, line_id=quote.line_id, msisdn=quote.msisdn,
            currency=quote.currency, amount_minor=quote.cashback_minor, state=WAITING, created_at=now,
            credited_at=None, ended_at=None, clawed_back_minor=0, lost_minor=0))
        session.flush()


def _convert(session: Session, partner: Partner, quote: Quote, *, topup_id: uuid.UUID, paid: Money,
             now: datetime) -> None:
    earned = commission(partner, paid)
    conversion = PartnerConversion(id=new_id(), partner_id=partner.id, topup_id=topup_id, quote_id=quote.id,
                                   line_id=quote.line_id, offer_id=quote.offer_id, currency=paid.currency,
                                   amount_minor=paid.minor, commission_minor=earned.minor, state=PENDING,
                                   created_at=now, reversed_at=None)
    session.add(conversion)
    session.flush()
    if earned.minor:
        ledger.post(session, kind="partner_commission", reference=f"conversion:{conversion.id}", now=now, legs=[
            Leg(ledger.system_account_id(ledger.PARTNER_PAYABLE, paid.currency), earned),
            Leg(ledger.system_account_id(ledger.MARKETING_EXPENSE, paid.currency), -earned),
        ])
    _postback(session, partner, conversion, CONVERSION, now)


def _postback(session: Session, partner: Partner, conversion: PartnerConversion, topic: str, now: datetime) -> None:
    if not partner.postback_url:
        return
    key = f"{topic}:{conversion.id}"
    data = {"partner": partner.code, "conversion_id": str(conversion.id), "topup_id": str(conversion.topup_id),
            "offer_id": conversion.offer_id, "state": REVERSED if topic == CONVERSION_REVERSED else conversion.state,
            "amount": {"amount_minor": conversion.amount_minor, "currency": conversion.currency},
            "commission": {"amount_minor": conversion.commission_minor, "currency": conversion.currency},
            "converted_at": conversion.created_at.isoformat()}
    body = {"id": f"evt_{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}", "type": topic, "created": int(now.timestamp()),
            "data": data}
    outbox.enqueue(session, [outbox.Message(dedup_key=key, topic=topic, channel=outbox.WEBHOOK,
                                            recipient=partner.postback_url, language="en", payload=body)], now=now)


# -- a renewal is refunded or voided ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Undone:
    conversion_reversed: bool = False
    cashback: str | None = None  # the customer cashback's new state: cancelled or clawed_back
    clawed_back_minor: int = 0
    lost_minor: int = 0


def on_refund(session: Session, topup_id: uuid.UUID, *, bonus_account_id: uuid.UUID | None, now: datetime) -> Undone:
    """A paid renewal is refunded (in whole or in part) or voided: reverse its conversion and cancel or claw back
    its cashback. Called with the line locked, in the refund's (void's) transaction; `bonus_account_id` is the
    live line's bonus account (None if the line that got the cashback has ended: nothing can be taken back).
    Harmless when there is nothing, or when it was undone already."""
    reversed_ = _reverse_conversion(session, topup_id, now)
    cashback = session.scalars(select(CustomerCashback).where(CustomerCashback.topup_id == topup_id)
                               .with_for_update().execution_options(populate_existing=True)).first()
    if cashback is None or cashback.state in (CANCELLED, CLAWED_BACK):
        return Undone(reversed_)
    if cashback.state == WAITING:
        cashback.state, cashback.ended_at = CANCELLED, now
        return Undone(reversed_, CANCELLED)
    amount = Money(cashback.amount_minor, cashback.currency)
    left = (ledger.balances(session, [bonus_account_id]).get(bonus_account_id, 0) or 0) if bonus_account_id else 0
    taken = Money(min(left, amount.minor), amount.currency)
    if taken.minor and bonus_account_id is not None:
        ledger.post(session, kind="cashback_clawback", reference=f"cashback-clawback:{cashback.id}", now=now, legs=[
            Leg(bonus_account_id, -taken, tracked=True),
            Leg(ledger.system_account_id(ledger.PROMOTION_EXPENSE, amount.currency), taken),
        ])
    cashback.state, cashback.ended_at = CLAWED_BACK, now
    cashback.clawed_back_minor, cashback.lost_minor = taken.minor, amount.minor - taken.minor
    return Undone(reversed_, CLAWED_BACK, taken.minor, amount.minor - taken.minor)


def _reverse_conversion(session: Session, topup_id: uuid.UUID, now: datetime) -> bool:
    table = PartnerConversion.__table__
    done = session.execute(update(table).where(table.c.topup_id == topup_id, table.c.state.in_((PENDING, CONFIRMED)))
                           .values(state=REVERSED, reversed_at=now))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    conversion = session.scalars(select(PartnerConversion).where(PartnerConversion.topup_id == topup_id)
                                 .execution_options(populate_existing=True)).one()
    earned = Money(conversion.commission_minor, conversion.currency)
    if earned.minor:
        ledger.post(session, kind="partner_commission_reversal", reference=f"conversion-reversal:{conversion.id}",
                    now=now, legs=[
                        Leg(ledger.system_account_id(ledger.PARTNER_PAYABLE, earned.currency), -earned),
                        Leg(ledger.system_account_id(ledger.MARKETING_EXPENSE, earned.currency), earned),
                    ])
    _postback(session, session.get_one(Partner, conversion.partner_id), conversion, CONVERSION_REVERSED, now)
    return True


# -- the worker: the cooling-off days are over ------------------------------------------------------------------------

@dataclass
class Settled:
    confirmed: int = 0
    credited: int = 0
    cancelled: int = 0  # the line that was to get it has ended


def settle_due(session_factory, *, now: datetime, cooling_days: int = COOLING_DAYS, limit: int = 500) -> Settled:
    """Confirm the conversions and credit the customer cashbacks whose cooling-off days are over. `session_factory`
    is `db.transaction`: one transaction per cashback, so one line's trouble never holds back the others. Running
    it again (or two workers at once) credits nothing twice: each row leaves `waiting` once, under its line's lock."""
    cutoff = now - timedelta(days=cooling_days)
    result = Settled()
    with session_factory() as session:
        table = PartnerConversion.__table__
        result.confirmed = session.execute(update(table).where(table.c.state == PENDING, table.c.created_at <= cutoff)
                                           .values(state=CONFIRMED)).rowcount
        due = list(session.execute(select(CustomerCashback.id, CustomerCashback.msisdn)
                                   .where(CustomerCashback.state == WAITING, CustomerCashback.created_at <= cutoff)
                                   .order_by(CustomerCashback.created_at).limit(limit)))
    for cashback_id, msisdn in due:
        with session_factory() as session:
            outcome = _credit(session, cashback_id, msisdn, now)
        if outcome == CREDITED:
            result.credited += 1
        elif outcome == CANCELLED:
            result.cancelled += 1
    return result


def _credit(session: Session, cashback_id: uuid.UUID, msisdn: str, now: datetime) -> str | None:
    locked = lines.lock_live_line(session, msisdn)
    cashback = session.scalars(select(CustomerCashback).where(CustomerCashback.id == cashback_id)
                               .with_for_update().execution_options(populate_existing=True)).one()
    if cashback.state != WAITING:
        return None  # another worker, or a refund, got there first
    if locked is None or locked[0].id != cashback.line_id:
        cashback.state, cashback.ended_at = CANCELLED, now  # the number was lost: its balances went with it
        return CANCELLED
    line, operator = locked
    amount = Money(cashback.amount_minor, cashback.currency)
    ledger.post(session, kind="cashback", reference=f"cashback:{cashback.id}", now=now, legs=[
        Leg(line.bonus_account_id, amount, tracked=True),
        Leg(ledger.system_account_id(ledger.PROMOTION_EXPENSE, amount.currency), -amount),
    ])
    cashback.state, cashback.credited_at = CREDITED, now
    sms = outbox.Message(dedup_key=f"{CREDITED_TOPIC}:{cashback.id}", topic=CREDITED_TOPIC, channel=outbox.SMS,
                         recipient=line.msisdn, language=line.language, line_id=line.id,
                         payload={"msisdn": line.msisdn, "amount": amount.to_dict()},
                         quiet_tz=operator.timezone)  # the worker runs at night too: the SMS waits for the morning
    email = lines.email_of(session, line.id)
    outbox.enqueue(session, [sms, *([outbox.Message(
        dedup_key=f"{sms.dedup_key}:email", topic=CREDITED_TOPIC, channel=outbox.EMAIL, recipient=email,
        language=line.language, line_id=line.id, payload=sms.payload, quiet_tz=operator.timezone)] if email else [])],
        now=now)
    return CREDITED


# -- the monthly statement --------------------------------------------------------------------------------------------

@dataclass
class Totals:
    conversions: int = 0
    reversals: int = 0
    sales_minor: int = 0
    earned_minor: int = 0
    reversed_minor: int = 0

    @property
    def due_minor(self) -> int:
        return self.earned_minor - self.reversed_minor


@dataclass
class Statement:
    """A partner's month (UTC): its conversions made in it, the reversals made in it (of conversions of any month)
    and, per currency, the commission due for it: earned less reversed — the month's movement of what simkeep
    owes the partner in the ledger."""

    partner: Partner
    month: date  # its first day
    conversions: list[PartnerConversion]
    reversals: list[PartnerConversion]
    totals: dict[str, Totals] = field(default_factory=dict)


def parse_month(text: str | None, *, today: date) -> date | None:
    """"2026-11" -> its first day; None (the current month) when empty; None also when malformed (the caller
    says so)."""
    if not text:
        return today.replace(day=1)
    if not re.fullmatch(r"\d{4}-\d{2}", text.strip()):
        return None
    year, month = (int(part) for part in text.strip().split("-"))
    return date(year, month, 1) if 1 <= month <= 12 and year >= 2000 else None


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def statement(session: Session, partner: Partner, month: date) -> Statement:
    start, end = month_bounds(month)
    conversions = list(session.scalars(
        select(PartnerConversion).where(PartnerConversion.partner_id == partner.id,
                                        PartnerConversion.created_at >= start, PartnerConversion.created_at < end)
        .order_by(PartnerConversion.created_at, PartnerConversion.id)))
    reversals = list(session.scalars(
        select(PartnerConversion).where(PartnerConversion.partner_id == partner.id,
                                        PartnerConversion.reversed_at >= start, PartnerConversion.reversed_at < end)
        .order_by(PartnerConversion.reversed_at, PartnerConversion.id)))
    result = Statement(partner, month, conversions, reversals)
    for row in conversions:
        totals = result.totals.setdefault(row.currency, Totals())
        totals.conversions += 1
        totals.sales_minor += row.amount_minor
        totals.earned_minor += row.commission_minor
    for row in reversals:
        totals = result.totals.setdefault(row.currency, Totals())
        totals.reversals += 1
        totals.reversed_minor += row.commission_minor
    return result


CSV_HEADER = ("date", "event", "conversion_id", "topup_id", "offer_id", "amount", "commission", "currency", "state")


def statement_rows(result: Statement) -> Iterable[tuple[str, ...]]:
    """The statement as CSV rows (amounts in major units with a dot, one line per conversion and per reversal,
    oldest first, then one `due` line per currency)."""
    events = [(row.created_at, "conversion", row, row.commission_minor) for row in result.conversions]
    events += [(row.reversed_at, "reversal", row, -row.commission_minor) for row in result.reversals
               if row.reversed_at is not None]
    for at, kind, row, earned in sorted(events, key=lambda e: (e[0], e[1])):
        yield (at.astimezone(UTC).isoformat(), kind, str(row.id), str(row.topup_id), row.offer_id,
               _major(row.amount_minor if kind == "conversion" else -row.amount_minor, row.currency),
               _major(earned, row.currency), row.currency, row.state)
    for currency, totals in sorted(result.totals.items()):
        yield (result.month.strftime("%Y-%m"), "due", "", "", "", _major(totals.sales_minor, currency),
               _major(totals.due_minor, currency), currency, "")


def _major(minor: int, currency: str) -> str:
    return str(Money(minor, currency).as_decimal())
