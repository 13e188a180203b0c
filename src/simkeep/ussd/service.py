"""The USSD menu: one PDU from a handset in, one screen out, in the caller's transaction.

Dialling the code (`*100#`) opens a session (ussd_service_op 1, PSSR indication); each answer to our screens
comes back as op 18 (USSR confirm). A screen that continues the dialogue goes out as op 2 (USSR request), the last
one as op 17 (PSSR response) with the end-of-session bit. Answers travel through the outbox (channel "ussd"), so
they are written in the same transaction as what they report, and a PDU the SMSC delivers again finds its step
done (`last_sequence`) and changes nothing. A PIN is redeemed by voucher.service with the portal's limits and
an idempotency key of the session and step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.config import Settings
from simkeep.core.errors import LineNotRenewable, ValidityCapReached, VoucherLocked
from simkeep.core.money import Money
from simkeep.line import service as lines
from simkeep.line.models import Line
from simkeep.locale import formats, languages
from simkeep.notification import outbox
from simkeep.notification.senders.base import UssdIn
from simkeep.ussd import repository, texts
from simkeep.ussd.models import ENDED, INFO, LANGUAGE, MENU, PIN, UssdSession
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers

# ussd_service_op values (SMPP 3.4 §5.3.2.44) and the outbox channel the answers take.
PSSR_INDICATION, USSR_REQUEST, PSSR_RESPONSE, USSR_CONFIRM = 1, 2, 17, 18
CHANNEL, TOPIC = outbox.USSD, "ussd.answer"
PRINCIPAL = "ussd"


@dataclass(frozen=True, slots=True)
class Request:
    """One USSD PDU from a handset: who, what was typed, and its its_session_info."""

    msisdn: str  # E.164 with '+'
    text: str
    op: int
    session: int  # its_session_info octet 1: the SMSC's session number
    sequence: int  # its_session_info bits 7..1 of octet 2; -1 when the SMSC numbers nothing
    end: bool = False  # bit 0: the handset ended the dialogue

    @classmethod
    def of(cls, message: UssdIn) -> Request:
        """From the PDU; without ussd_service_op a dialled code opens a session, anything else answers one."""
        typed = message.text.strip()
        op = message.op if message.op is not None else (
            PSSR_INDICATION if typed.startswith("*") and typed.endswith("#") else USSR_CONFIRM)
        if message.session_info is None:
            return cls(message.sender, message.text, op, 0, -1)
        info = message.session_info
        return cls(message.sender, message.text, op, info >> 8 & 0xFF, info >> 1 & 0x7F, bool(info & 1))

    @property
    def numbered(self) -> bool:
        return self.sequence >= 0

    def answer_info(self, final: bool) -> int:
        """its_session_info of our answer: the same session number, the next sequence number, the end bit last."""
        return self.session << 8 | ((self.sequence + 1) & 0x7F) << 1 | int(final)


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    final: bool


@dataclass(frozen=True, slots=True)
class Menu:
    """What the menu needs from the settings."""

    code: str
    timeout: timedelta
    keys: pins.Keys | None
    region: str
    failures_allowed: int
    failure_hours: int

    @classmethod
    def of(cls, settings: Settings) -> Menu:
        keys = pins.keys(settings) if settings.voucher_pepper and settings.voucher_seal_key else None
        return cls(code=settings.ussd_code, timeout=timedelta(seconds=settings.ussd_timeout_seconds), keys=keys,
                   region=settings.default_region, failures_allowed=settings.voucher_failures_per_number,
                   failure_hours=settings.voucher_failure_hours)


def handle(session: Session, *, request: Request, menu: Menu, now: datetime) -> Answer | None:
    """Act on one PDU and queue its answer; None when there is nothing to say (a PDU delivered again, or the
    handset hanging up)."""
    if request.op not in (PSSR_INDICATION, USSR_CONFIRM):
        return None  # what a handset never sends to an application (responses, notifications' confirmations)
    current = repository.locked_open(session, request.msisdn, request.session)
    if current is not None and current.updated_at + menu.timeout <= now:
        repository.end(session, current.id, outcome="timeout", at=current.updated_at + menu.timeout)
        current = None
    if request.op == PSSR_INDICATION and not (current and _seen(current, request)):
        return _open(session, request, menu, now)  # a dial, unless the open session's first PDU came again
    if current is None and _ended_step(session, request, menu, now):
        return None  # the last step of a session that has ended, delivered again
    if current is None:
        return _expired(session, request, menu, now)
    if _seen(current, request):
        return None  # acted on already
    if request.end:
        repository.advance(session, current, state=ENDED, language=current.language, sequence=request.sequence,
                           now=now, outcome="released")
        return None
    step = _STEPS[current.state]
    state, language, screen, outcome = step(session, current, request.text.strip(), menu, now)
    repository.advance(session, current, state=state, language=language, sequence=request.sequence, now=now,
                       outcome=outcome)
    return _send(session, current.id, request, menu, language, screen, final=state == ENDED, now=now)


def expire_idle(session: Session, *, timeout: timedelta, now: datetime, limit: int = 500) -> int:
    """End the sessions silent for `timeout` (the handset gave up; the network dropped the dialogue)."""
    idle = repository.idle_since(session, now - timeout, limit=limit)
    for ussd in idle:
        repository.end(session, ussd.id, outcome="timeout", at=ussd.updated_at + timeout)
    return len(idle)


def sessions_for_line(session: Session, line_id, *, before: datetime | None, limit: int) -> list[UssdSession]:
    return repository.for_line(session, line_id, before=before, limit=limit)


def _seen(current: UssdSession, request: Request) -> bool:
    """The PDU of a step already taken, delivered again (an SMSC retries when our deliver_sm_resp is lost)."""
    return request.numbered and request.sequence <= current.last_sequence


def _ended_step(session: Session, request: Request, menu: Menu, now: datetime) -> bool:
    last = repository.latest(session, request.msisdn, request.session)
    return (last is not None and last.ended_at is not None and last.ended_at + menu.timeout > now
            and _seen(last, request))


# --- the steps: (session, ussd session, what was typed, menu, now) -> (state, language, screen, outcome) --------
Step = tuple[str, str, str, str | None]


def _open(session: Session, request: Request, menu: Menu, now: datetime) -> Answer | None:
    for earlier in repository.open_sessions(session, request.msisdn):  # a handset holds one dialogue at a time
        if earlier.smsc_session == request.session and _seen(earlier, request):
            return None  # a twin of this dial opened it since this transaction looked (READ COMMITTED)
        repository.end(session, earlier.id, outcome="replaced", at=now)
    line = lines.find_live_line(session, request.msisdn)
    language = line.language if line else languages.DEFAULT
    current = repository.start(session, msisdn=request.msisdn, smsc_session=request.session,
                               line_id=line.id if line else None, state=MENU, language=language,
                               sequence=request.sequence, now=now)
    outcome: str | None = None
    if line is None:
        state, screen, outcome = ENDED, texts.text("no_line", language), "no_line"
    elif shortcut := _shortcut(request.text, menu.code):  # *100*1# is *100# then 1
        state, language, screen, outcome = _menu(session, current, shortcut, menu, now)
    else:
        state, screen = MENU, _menu_screen(line, language)
    repository.advance(session, current, state=state, language=language, sequence=request.sequence, now=now,
                       outcome=outcome)
    return _send(session, current.id, request, menu, language, screen, final=state == ENDED, now=now)


def _menu(session: Session, current: UssdSession, typed: str, menu: Menu, now: datetime) -> Step:
    line, language = _line(session, current), current.language
    if line is None:
        return ENDED, language, texts.text("no_line", language), "no_line"
    if typed == "1":
        return INFO, language, texts.text("balance", language, **_status(session, line, language)), None
    if typed == "2":
        return PIN, language, texts.text("pin", language), None
    if typed == "3":
        return LANGUAGE, language, texts.text("language", language), None
    if typed == "0":
        return ENDED, language, texts.text("goodbye", language), "exit"
    return MENU, language, _invalid(_menu_screen(line, language), language), None


def _info(session: Session, current: UssdSession, typed: str, menu: Menu, now: datetime) -> Step:
    line, language = _line(session, current), current.language
    if line is None:
        return ENDED, language, texts.text("no_line", language), "no_line"
    if typed == "0":
        return ENDED, language, texts.text("goodbye", language), "exit"
    if typed == "9":
        return MENU, language, _menu_screen(line, language), None
    return INFO, language, _invalid(texts.text("balance", language, **_status(session, line, language)), language), \
        None


def _pin(session: Session, current: UssdSession, typed: str, menu: Menu, now: datetime) -> Step:
    line, language = _line(session, current), current.language
    if line is None:
        return ENDED, language, texts.text("no_line", language), "no_line"
    if typed == "0":
        return MENU, language, _menu_screen(line, language), None
    if menu.keys is None:  # vouchers are not set up: say what the portal would, a card cannot be used
        return PIN, language, texts.text("pin_failed", language), None
    try:
        with session.begin_nested():  # a refusal after the card was taken must leave nothing behind
            redemption = vouchers.redeem(
                session, msisdn=current.msisdn, pin=typed, via=PRINCIPAL, principal=PRINCIPAL,
                idempotency_key=f"ussd:{current.id}:{current.last_sequence}", client="ussd",
                keys=menu.keys, now=now, region=menu.region, failures_allowed=menu.failures_allowed,
                failure_hours=menu.failure_hours)
    except VoucherLocked:
        return ENDED, language, texts.text("locked", language), "locked"
    except (LineNotRenewable, ValidityCapReached):
        return ENDED, language, texts.text("not_renewable", language), "not_renewable"
    if redemption.result is None:  # the failure is recorded with this transaction (it counts to the lockout)
        return PIN, language, texts.text("pin_failed", language), None
    topup = redemption.result.topup
    fresh = lines.find_live_line_by_id(session, line.id) or line
    amount = _money(Money(topup.price_minor, topup.currency), fresh, language)
    return ENDED, language, texts.text("renewed", language, amount=amount, **_status(session, fresh, language)), \
        "renewed"


def _language(session: Session, current: UssdSession, typed: str, menu: Menu, now: datetime) -> Step:
    line, language = _line(session, current), current.language
    if line is None:
        return ENDED, language, texts.text("no_line", language), "no_line"
    if typed in texts.CHOICES:
        language = lines.set_language(session, line.id, texts.CHOICES[typed])
        return MENU, language, _menu_screen(line, language), None
    if typed == "0":
        return MENU, language, _menu_screen(line, language), None
    return LANGUAGE, language, _invalid(texts.text("language", language), language), None


_STEPS = {MENU: _menu, INFO: _info, PIN: _pin, LANGUAGE: _language}


# --- screens ----------------------------------------------------------------------------------------------------
def _menu_screen(line: Line, language: str) -> str:
    return texts.text("menu", language, number=formats.phone(line.msisdn))


def _invalid(screen: str, language: str) -> str:
    return f"{texts.text('invalid', language)}\n{screen}"


def _status(session: Session, line: Line, language: str) -> dict[str, str]:
    """Balance, last day of validity and last day the number is kept, as the line's reader writes them."""
    view = lines.view(session, line)
    locale, tz = languages.for_number(language, line.msisdn).locale, view.operator.timezone
    return {"balance": formats.money(view.balance, locale),
            "validity_end": formats.last_day(line.validity_ends_at, tz, locale),
            "loss_date": formats.last_day(line.number_loss_at, tz, locale)}


def _money(amount: Money, line: Line, language: str) -> str:
    return formats.money(amount, languages.for_number(language, line.msisdn).locale)


def _line(session: Session, current: UssdSession) -> Line | None:
    return lines.find_live_line_by_id(session, current.line_id) if current.line_id else None


def _shortcut(text: str, code: str) -> str | None:
    """"*100*1#" dialled at once: the choice after the code ("1"), or None for the bare code."""
    stem, typed = code.rstrip("#"), text.strip()
    if typed.startswith(stem + "*") and typed.endswith("#"):
        return typed[len(stem) + 1:-1] or None
    return None


def _expired(session: Session, request: Request, menu: Menu, now: datetime) -> Answer | None:
    """An answer to a session that is over (timed out, or never known): a short final screen, once."""
    if request.end:
        return None
    line = lines.find_live_line(session, request.msisdn)
    language = line.language if line else languages.DEFAULT
    screen = texts.text("expired", language, code=menu.code)
    key = f"ussd:{request.msisdn}:{request.session}:{request.sequence}:{now:%Y%m%d%H%M}"
    return _queue(session, key, request, menu, language, screen, final=True, now=now)


def _send(session: Session, session_id, request: Request, menu: Menu, language: str, screen: str, *, final: bool,
          now: datetime) -> Answer:
    step = request.sequence if request.numbered else now.isoformat()
    return _queue(session, f"ussd:{session_id}:{step}", request, menu, language, screen, final=final, now=now)


def _queue(session: Session, key: str, request: Request, menu: Menu, language: str, screen: str, *, final: bool,
           now: datetime) -> Answer:
    """The screen goes out through the outbox with what the SMPP sender needs for the USSD fields; an answer the
    handset can no longer take (the link was down for a timeout) is not sent late."""
    outbox.enqueue(session, [outbox.Message(
        dedup_key=key, topic=TOPIC, channel=CHANNEL, recipient=request.msisdn, language=language,
        payload={"text": screen, "op": PSSR_RESPONSE if final else USSR_REQUEST,
                 "session_info": request.answer_info(final), "until": (now + menu.timeout).isoformat()})], now=now)
    return Answer(screen, final)
