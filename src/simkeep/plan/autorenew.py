"""Auto-renew: a line renews itself with a saved payment method, once per period, before its number is at risk.

The period is the validity end being renewed. A charge row is UNIQUE on (line, period) and is written before any
provider is called, so two workers sweeping at once, a rerun, or a worker that died between the charge and the
credit never charge a period twice: the loser of the race inserts nothing, and a charge left "charging" is asked
again with the same idempotency key (its payment attempt's id), which the provider answers with the first charge.
The money reaches the line only through `payment.service.credit` (the top-up keyed by the attempt), so the
webhook that follows, or a second answer, credits nothing more; every credit brings its receipt and SMS.

Lock order: the charge row, then the payment attempt, then the line (the top-up's). The worker side (provider
calls between transactions) is in autorenew_tasks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.catalog import service as catalog
from simkeep.core.errors import InvalidInput, NotFound, SimkeepError
from simkeep.core.ids import new_id
from simkeep.line import service as lines
from simkeep.line.models import Line
from simkeep.notification import outbox
from simkeep.payment import service as payments
from simkeep.payment.models import ABANDONED, CREATED, FAILED, PENDING, REVIEW, SUCCEEDED, PaymentAttempt
from simkeep.payment.providers.base import ProviderStatus, SavedRef
from simkeep.plan import autorenew_repository as repository
from simkeep.plan.autorenew_models import (
    BEFORE_END,
    CHARGING,
    CLOSED,
    LOWEST_COST,
    MODES,
    REQUIRES_ACTION,
    RETRYABLE,
    SETTLED,
    STOPPED,
    AutoRenewCharge,
    AutoRenewSetting,
    SavedMethod,
)
from simkeep.plan.autorenew_models import FAILED as CHARGE_FAILED
from simkeep.plan.autorenew_models import GIVEN_UP as CHARGE_GIVEN_UP
from simkeep.plan.autorenew_models import SUCCEEDED as CHARGE_SUCCEEDED
from simkeep.promotion import service as promotions
from simkeep.promotion.service import QuoteFor
from simkeep.topup import service as topups

CHANNEL = "auto_renew"
MAX_DAYS_BEFORE = 30  # "renew N days before the validity end": 1 to 30
DEFAULT_DAYS_BEFORE = 3
# "Keep my number at the lowest cost": renew this long before the number-loss date, which leaves room for the
# retries below (a day, then three) before the number is lost.
LOWEST_COST_LEAD = timedelta(days=5)
RETRY_AFTER = (timedelta(days=1), timedelta(days=3))  # after the 1st and the 2nd failed try; none after the 3rd
LAST_CALL = timedelta(hours=12)  # the last retry is no later than this before the number-loss date
MIN_GAP = timedelta(hours=1)  # a retry closer than this to the previous try is not worth making
STUCK_AFTER = timedelta(minutes=5)  # a charge "charging" this long lost its worker: ask the provider again
LINK_PURPOSE = "autorenew_link"  # Settings.key(LINK_PURPOSE) signs the one-tap links
STOP_AUTO_WORDS = ("STOP AUTO", "STOPAUTO", "ARRET AUTO", "ARRÊT AUTO", "取消自动续费", "停止自动续费")


class AutoRenewMethodNotFound(NotFound):
    code, message = "autorenew_method_not_found", "No such saved payment method for this line."


class AutoRenewLinkInvalid(NotFound):
    code, message = "autorenew_link_invalid", "This auto-renew link is not valid."


@dataclass(frozen=True, slots=True)
class Claimed:
    """A charge this worker now makes (or asks about again): everything the provider call needs."""

    charge_id: uuid.UUID
    attempt: PaymentAttempt
    customer_ref: str | None
    method_ref: str
    description: str


@dataclass(frozen=True, slots=True)
class Links:
    """Where auto-renew messages send people: the portal's address and the key that signs the links."""

    base: str
    key: str

    def url(self, charge_id: uuid.UUID) -> str:
        return f"{self.base}/auto-renew/{link_token(self.key, charge_id)}"


def link_token(key: str, charge_id: uuid.UUID) -> str:
    body = base64.urlsafe_b64encode(charge_id.bytes).decode().rstrip("=")
    return f"{body}.{_mac(key, body)}"


def read_link(key: str, token: str) -> uuid.UUID:
    """The charge a one-tap link names; AutoRenewLinkInvalid for anything not signed with `key`."""
    body, _, mac = token.partition(".")
    if not body or not hmac.compare_digest(mac, _mac(key, body)):
        raise AutoRenewLinkInvalid()
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError as exc:
        raise AutoRenewLinkInvalid() from exc


def _mac(key: str, body: str) -> str:
    digest = hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode()


# -- the subscriber's side: methods, on, off ------------------------------------------------------------------------

def save_method(session: Session, *, line: Line, provider: str, method: str, saved: SavedRef,
                now: datetime) -> SavedMethod:
    row = dict(id=new_id(), line_id=line.id, provider=provider, method=method, customer_ref=saved.customer_ref,
               method_ref=saved.method_ref, label=saved.label[:60], created_at=now, removed_at=None)
    repository.add_method(session, row)
    audit.record(session, actor=f"line:{line.id}", action="autorenew.method_saved", subject_type="line",
                 subject_id=str(line.id), reason="saved by the subscriber", details={"label": row["label"]}, now=now)
    return SavedMethod(**row)


def methods_of(session: Session, line_id: uuid.UUID) -> list[SavedMethod]:
    return repository.methods_of(session, line_id)


def setting_of(session: Session, line_id: uuid.UUID) -> AutoRenewSetting | None:
    return repository.setting(session, line_id)


def charges_of(session: Session, line_id: uuid.UUID) -> list[AutoRenewCharge]:
    return repository.charges_of(session, line_id)


def turn_on(session: Session, *, line: Line, offer_id: str, mode: str, method_id: uuid.UUID,
            days_before: int = DEFAULT_DAYS_BEFORE, actor: str, now: datetime) -> AutoRenewSetting:
    """Auto-renew on for the line, with one of its operator's offers and one of its saved methods; confirmed by
    SMS (which says how to turn it off) and recorded in the audit log."""
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
    if not 1 <= days_before <= MAX_DAYS_BEFORE:
        raise InvalidInput(f"days_before must be between 1 and {MAX_DAYS_BEFORE}")
    operator = catalog.get_operator(session, line.operator_id)
    offer = catalog.get_offer(session, offer_id, operator)  # OfferNotFound for another operator's offer
    saved = repository.method(session, method_id)
    if saved is None or saved.line_id != line.id or saved.removed_at is not None:
        raise AutoRenewMethodNotFound()
    earlier = repository.setting(session, line.id, for_update=True)
    row = dict(line_id=line.id, offer_id=offer.id, mode=mode, days_before=days_before, method_id=saved.id,
               enabled=True, changed_by=actor[:80], changed_at=now, created_at=earlier.created_at if earlier else now)
    repository.put_setting(session, row)
    audit.record(session, actor=actor, action="autorenew.on", subject_type="line", subject_id=str(line.id),
                 reason="turned on", details={"offer_id": offer.id, "mode": mode, "days_before": days_before,
                                              "method": saved.label}, now=now)
    price, _bonus = catalog.price_of(offer, operator)
    _send(session, line, topic="autorenew.on", key=f"on:{line.id}:{now.isoformat()}", now=now, payload={
        "amount": price.to_dict(), "method_label": saved.label, "mode": mode, "days_before": days_before})
    found = repository.setting(session, line.id)
    assert found is not None
    return found


def turn_off(session: Session, *, line: Line, actor: str, now: datetime) -> bool:
    """Auto-renew off: no charge starts any more, retries waiting are stopped. True when it was on. Confirmed
    by SMS and recorded in the audit log; idempotent (turning off twice sends one message)."""
    was_on = repository.disable(session, line.id, by=actor[:80], now=now)
    for row in repository.open_charges_of(session, line.id, RETRYABLE):
        repository.change_charge(session, row.id, state=STOPPED, next_retry_at=None, updated_at=now)
    if was_on:
        audit.record(session, actor=actor, action="autorenew.off", subject_type="line", subject_id=str(line.id),
                     reason="turned off", now=now)
        _send(session, line, topic="autorenew.stopped", key=f"off:{line.id}:{now.isoformat()}", now=now,
              payload={})
    return was_on


def stop_by_sms(session: Session, *, sender: str, text: str, now: datetime) -> str | None:
    """An inbound SMS command: STOP AUTO (and its French and Chinese forms) turns auto-renew off for the sender's
    line; None for any other text (STOP alone is the reminders' opt-out, not this)."""
    if " ".join(text.strip().upper().split()) not in STOP_AUTO_WORDS:
        return None
    line = lines.find_live_line(session, sender)
    if line is None:
        return "no line"
    return "auto-renew off" if turn_off(session, line=line, actor="sms:STOP AUTO", now=now) else "auto-renew was off"


# -- the worker's side: due lines, claims, outcomes -----------------------------------------------------------------

def renew_at(c: repository.Candidate) -> datetime:
    if c.mode == LOWEST_COST:
        return c.number_loss_at - LOWEST_COST_LEAD
    return c.validity_ends_at - timedelta(days=c.days_before)


def due_page(session: Session, *, now: datetime, after: uuid.UUID | None,
             limit: int) -> tuple[list[repository.Candidate], uuid.UUID | None]:
    """(the due lines of one keyset page, where the next page starts or None at the end)."""
    page = repository.candidates(session, now=now, after=after, limit=limit,
                                 horizon=timedelta(days=MAX_DAYS_BEFORE), lowest_cost_lead=LOWEST_COST_LEAD)
    nxt = page[-1].line_id if len(page) == limit else None
    return [c for c in page if renew_at(c) <= now], nxt


def claim_due(session: Session, due: repository.Candidate, *, now: datetime) -> Claimed | None:
    """The charge for this line's current period, made by this worker; None when the period has its charge
    already (another worker, an earlier run) or cannot be renewed (closed at once, with the reason)."""
    saved = repository.method(session, due.method_id)
    if saved is None:
        return None
    charge_id = new_id()
    if not repository.insert_charge(session, dict(
            id=charge_id, line_id=due.line_id, period_end=due.validity_ends_at, offer_id=due.offer_id,
            method_id=due.method_id, amount_minor=0, currency="", state=CHARGING, tries=0, attempt_id=None,
            failure=None, next_retry_at=None, created_at=now, updated_at=now)):
        return None
    return _start_try(session, charge_id, msisdn=due.msisdn, offer_id=due.offer_id, saved=saved,
                      language=due.language, tries=1, now=now)


def _start_try(session: Session, charge_id: uuid.UUID, *, msisdn: str, offer_id: str, saved: SavedMethod,
               language: str, tries: int, now: datetime) -> Claimed | None:
    """Price the renewal (a quote on the auto-renew channel, its budget held) and record the payment attempt,
    in a savepoint: a line that cannot be renewed any more closes the charge instead."""
    try:
        with session.begin_nested():
            quote = topups.quote(session, msisdn=msisdn, offer_id=offer_id, channel=CHANNEL, now=now)
            promotions.hold(session, quote.id, target=QuoteFor(quote.line_id, quote.msisdn, quote.operator_id,
                                                               quote.offer_id, CHANNEL, quote.currency), now=now)
            attempt = payments.start_off_session(
                session, key=f"autorenew:{charge_id}:{tries}", line=_LineRef(quote.line_id, quote.msisdn),
                offer_id=offer_id, amount_minor=quote.price_minor, currency=quote.currency, method=saved.method,
                provider=saved.provider, language=language, quote_id=quote.id, channel=CHANNEL, now=now)
    except SimkeepError as exc:
        repository.change_charge(session, charge_id, state=CHARGE_GIVEN_UP, failure=exc.code[:80],
                                 next_retry_at=None, tries=tries, updated_at=now)
        return None
    repository.change_charge(session, charge_id, state=CHARGING, tries=tries, attempt_id=attempt.id,
                             amount_minor=attempt.amount_minor, currency=attempt.currency, next_retry_at=None,
                             updated_at=now)
    return Claimed(charge_id, attempt, saved.customer_ref, saved.method_ref, f"simkeep auto-renew {msisdn}")


@dataclass(frozen=True, slots=True)
class _LineRef:
    id: uuid.UUID
    msisdn: str


def claim_retries(session: Session, *, now: datetime, limit: int) -> tuple[list[Claimed], list[PaymentAttempt]]:
    """Charges whose retry time has come, each re-checked: auto-renew still on, the period still the line's
    (renewed some other way meanwhile: settled). Returns (the new tries, the attempts still waiting for their
    payer that the caller must close at the provider before the new try is charged)."""
    claimed: list[Claimed] = []
    waiting: list[PaymentAttempt] = []
    for row in repository.claim(session, states=RETRYABLE, due_column="next_retry_at", before=now, limit=limit):
        setting = repository.setting(session, row.line_id)
        line = lines.find_live_line_by_id(session, row.line_id)
        if setting is None or not setting.enabled:
            repository.change_charge(session, row.id, state=STOPPED, next_retry_at=None, updated_at=now)
            continue
        previous = payments.get_attempt(session, row.attempt_id) if row.attempt_id else None
        if previous is not None and previous.status == SUCCEEDED:  # the payer authenticated it meanwhile
            repository.change_charge(session, row.id, state=CHARGE_SUCCEEDED, failure=None, next_retry_at=None,
                                     updated_at=now)
            continue
        if line is None or line.validity_ends_at != row.period_end or now >= line.number_loss_at:
            repository.change_charge(session, row.id, state=SETTLED if line else CHARGE_GIVEN_UP,
                                     next_retry_at=None, updated_at=now)
            continue
        if previous is not None and previous.status == PENDING:
            # The last try still waits for its payer (authentication): close it first, or both could be paid.
            waiting.append(previous)
            repository.change_charge(session, row.id, next_retry_at=now + MIN_GAP, updated_at=now)
            continue
        if previous is not None and previous.quote_id is not None and previous.status != SUCCEEDED:
            promotions.release(session, previous.quote_id, now=now)
        saved = repository.method(session, setting.method_id)
        if saved is None or saved.removed_at is not None:
            repository.change_charge(session, row.id, state=STOPPED, failure="no_method", next_retry_at=None,
                                     updated_at=now)
            continue
        try_ = _start_try(session, row.id, msisdn=line.msisdn, offer_id=setting.offer_id, saved=saved,
                          language=line.language, tries=row.tries + 1, now=now)
        if try_ is not None:
            claimed.append(try_)
    return claimed, waiting


def claim_stuck(session: Session, *, now: datetime, limit: int) -> list[Claimed]:
    """Charges left "charging" by a worker that died (between the provider call and recording its answer, or
    before the call): asked again with the same attempt, so the same idempotency key."""
    out = []
    for row in repository.claim(session, states=(CHARGING,), due_column="updated_at", before=now - STUCK_AFTER,
                                limit=limit):
        if row.attempt_id is None:
            repository.change_charge(session, row.id, state=CHARGE_GIVEN_UP, failure="no_attempt", updated_at=now)
            continue
        attempt = payments.get_attempt(session, row.attempt_id)
        saved = repository.method(session, row.method_id)
        assert saved is not None  # a foreign key
        repository.change_charge(session, row.id, updated_at=now)
        out.append(Claimed(row.id, attempt, saved.customer_ref, saved.method_ref,
                           f"simkeep auto-renew {attempt.msisdn}"))
    return out


def record(session: Session, claimed: Claimed, status: ProviderStatus | None, *, receipt_secret: str,
           base_url: str, links: Links, now: datetime) -> str:
    """The provider's answer to a charge: credited (receipt and SMS through the credit path), or a message with
    the one-tap link and the next retry; no answer leaves the charge "charging", asked again later."""
    charge = repository.charge(session, claimed.charge_id, for_update=True)
    if charge is None or charge.state != CHARGING or charge.attempt_id != claimed.attempt.id:
        return "ignored"
    if status is None:
        repository.change_charge(session, charge.id, updated_at=now)
        return "unknown"
    outcome = payments.record_off_session(session, claimed.attempt.id, status, receipt_secret=receipt_secret,
                                          base_url=base_url, now=now)
    return _apply(session, charge, outcome, status.failure, links=links, now=now)


def settle_from_attempt(session: Session, attempt: PaymentAttempt, *, links: Links, now: datetime) -> str | None:
    """An attempt that was waiting for its payer has an outcome (the payer authenticated, or it was closed):
    the charge follows it. None when the attempt is no auto-renew charge's current one."""
    charge = repository.charge_by_attempt(session, attempt.id)
    if charge is None:
        return None
    current = payments.get_attempt(session, attempt.id)
    if current.status in (PENDING, CREATED):
        return charge.state
    if current.status == SUCCEEDED:
        repository.change_charge(session, charge.id, state=CHARGE_SUCCEEDED, failure=None, next_retry_at=None,
                                 updated_at=now)
        return CHARGE_SUCCEEDED
    return charge.state  # closed unpaid: the scheduled retry makes the next try


def _apply(session: Session, charge: AutoRenewCharge, attempt_status: str, failure: str | None, *, links: Links,
           now: datetime) -> str:
    if attempt_status == SUCCEEDED:
        repository.change_charge(session, charge.id, state=CHARGE_SUCCEEDED, failure=None, next_retry_at=None,
                                 updated_at=now)
        return CHARGE_SUCCEEDED
    if attempt_status == REVIEW:  # money taken but not credited: a person settles it (review queue)
        repository.change_charge(session, charge.id, state=SETTLED, failure="review", next_retry_at=None,
                                 updated_at=now)
        return SETTLED
    if attempt_status == CREATED:
        repository.change_charge(session, charge.id, updated_at=now)
        return CHARGING
    state = REQUIRES_ACTION if attempt_status == PENDING else CHARGE_FAILED
    if attempt_status in (FAILED, ABANDONED) and charge.attempt_id is not None:
        quote_id = payments.get_attempt(session, charge.attempt_id).quote_id
        if quote_id is not None:
            promotions.release(session, quote_id, now=now)
    line = lines.find_live_line_by_id(session, charge.line_id)
    retry_at = _next_retry(charge.tries, line.number_loss_at if line else now, now)
    repository.change_charge(session, charge.id, state=state if retry_at else CHARGE_GIVEN_UP,
                             failure=(failure or ("requires_action" if state == REQUIRES_ACTION else "failed"))[:80],
                             next_retry_at=retry_at, updated_at=now)
    if line is not None:
        operator = catalog.get_operator(session, line.operator_id)
        _send(session, line, topic="autorenew.action_required" if state == REQUIRES_ACTION else "autorenew.failed",
              key=f"{charge.id}:{charge.tries}", now=now, payload={
                  "amount": {"amount_minor": charge.amount_minor, "currency": charge.currency},
                  "failure": failure or "", "action_url": links.url(charge.id), "timezone": operator.timezone,
                  "number_loss_at": line.number_loss_at.isoformat(),
                  **({"retry_at": retry_at.isoformat()} if retry_at else {})})
    return state if retry_at else CHARGE_GIVEN_UP


def _next_retry(tries: int, number_loss_at: datetime, now: datetime) -> datetime | None:
    """When to try again after `tries` failed tries: a day later, then three days later, never later than
    LAST_CALL before the number-loss date; None when no further try is made."""
    if tries > len(RETRY_AFTER):
        return None
    at = min(now + RETRY_AFTER[tries - 1], number_loss_at - LAST_CALL)
    return at if at >= now + MIN_GAP else None


def charge_for_link(session: Session, *, key: str, token: str) -> AutoRenewCharge:
    charge = repository.charge(session, read_link(key, token))
    if charge is None:
        raise AutoRenewLinkInvalid()
    return charge


def is_open(charge: AutoRenewCharge) -> bool:
    return charge.state not in CLOSED


def _send(session: Session, line: Line, *, topic: str, key: str, payload: dict, now: datetime) -> None:
    """An SMS to the line (and the same by e-mail when its subscriber gave one), in its language."""
    sms = outbox.Message(dedup_key=f"{topic}:{key}", topic=topic, channel=outbox.SMS, recipient=line.msisdn,
                         language=line.language, line_id=line.id, payload={"msisdn": line.msisdn, **payload})
    email = ([outbox.Message(dedup_key=f"{topic}:{key}:email", topic=topic, channel=outbox.EMAIL,
                             recipient=line.email, language=line.language, line_id=line.id,
                             payload={"msisdn": line.msisdn, **payload})] if line.email else [])
    outbox.enqueue(session, [sms, *email], now=now)


__all__ = ["BEFORE_END", "CHANNEL", "LOWEST_COST", "Claimed", "Links", "charge_for_link", "claim_due",
           "claim_retries", "claim_stuck", "due_page", "record", "save_method", "stop_by_sms", "turn_off", "turn_on"]
