"""The hotline's voice menu: the dialogue behind every transport (SIP in voice/sip/, an operator's IVR over HTTP).

    first call from a line, or a caller from another phone:
        1 中文   2 Français   3 English          (each said in its own language; remembered for the calling line)
    a line calling again: greeted in its language
    a caller from another phone (or a withheld number):
        the number, then #  ->  "if this number is ours, we sent it a code"  ->  the code, then #  ->  the menu
                                                                              or * : a card for that number (its PIN
                                                                              is the proof, as on the portal)
                                                                              or 0 : another number
    the menu:
        1  balance, validity end, number-loss date (and the line's state when it is not active)
        2  a recharge card: its 15-digit PIN, then #   (* goes back)
        3  a renewal link by SMS to the line's own number (once a call)
        8  repeat    0  an agent (transfer to SIMKEEP_VOICE_AGENT_URI)    9  language (the calling line)

Every action is a service call the portal makes too: `voucher.service.redeem` (via "ivr", its lockout),
`otp.service.request_code / verify_code` (the portal's sign-in code and budget), `line.service.view`,
`line.service.set_language`. One event is one transaction with the call's row locked: two events of one call run
one after the other, a redemption and the state that says it happened commit together, and a hang-up after it
undoes nothing. A multi-digit entry sent twice (a transport's retry) answers the turn it got the first time.

Three invalid keys or two silences in a row end the call. A database error says "technical problem" and hangs up;
what is logged names the call, never a PIN, a code or a typed number.
"""

from __future__ import annotations

import hashlib
import hmac
import traceback
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import (
    InvalidMsisdn,
    LineNotFound,
    LineNotRenewable,
    ValidityCapReached,
    VoucherLocked,
)
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.core.phone import lookup_msisdn
from simkeep.db import Database
from simkeep.line import links
from simkeep.line import service as lines
from simkeep.line.models import ACTIVE, DEACTIVATED, GRACE, QUARANTINE, SUSPENDED, Line
from simkeep.locale.formats import last_date
from simkeep.notification import outbox
from simkeep.otp import service as otp
from simkeep.receipt import service as receipts
from simkeep.voice import service, speech
from simkeep.voice.flow import Call, Digits, Event, Gather, Hangup, HungUp, Prompt, Silence, Transfer, Turn
from simkeep.voice.models import COMPLETED, FAILED, HUNG_UP, TRANSFERRED
from simkeep.voice.speech import EN, FR, LANGUAGES, ZH
from simkeep.voice.texts import say
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers

log = structlog.get_logger()

LANGUAGE, MENU, PIN, NUMBER, CODE = "language", "menu", "pin", "number", "code"  # the steps
CHOICES = {"1": ZH, "2": FR, "3": EN}
MAX_INVALID, MAX_SILENCES = 3, 2  # in a row, then goodbye
KEY = Gather(max_digits=1, timeout=6.0)
# An entry the prompt ends with "#" gathers one key more than it needs, so that # ends it as the finishing key
# rather than arriving after it as a key of its own; without the #, the silence after the last digit ends it.
PIN_ENTRY = Gather(max_digits=pins.PIN_DIGITS + 1, timeout=10.0)
NUMBER_ENTRY = Gather(max_digits=20, timeout=10.0)  # 00 + a country code + 15 digits at most
CODE_ENTRY = Gather(max_digits=7, timeout=10.0)  # the portal's 6-digit code
PRINCIPAL = "ivr"  # whose idempotency keys the menu's redemptions are (one per call and PIN attempt)
RECEIPT_METHOD = "voucher"


class Menu:
    """The dialogue (flow.Dialogue) over the database: any process can answer any event of any call.
    `now` is the clock (tests freeze it)."""

    def __init__(self, db: Database, settings: Settings, *, now: Callable[[], datetime] = clock.now) -> None:
        self.db = db
        self.settings = settings
        self.now = now

    def start(self, call: Call) -> Turn:
        try:
            with self.db.transaction() as session:
                return _Dialogue.begin(session, self.settings, call, self.now())
        except Exception as exc:
            _log_failure("voice.start_failed", call.call_id, exc)
            return self._failed(call.call_id, None)

    def handle(self, call_id: str, event: Event) -> Turn | None:
        language = None
        try:
            with self.db.transaction() as session:
                row = service.lock(session, call_id)
                if row is None or row.ended_at is not None:
                    return None
                language = row.language
                return _Dialogue(session, self.settings, row, self.now()).handle(event)
        except Exception as exc:
            _log_failure("voice.event_failed", call_id, exc, on=type(event).__name__)
            return self._failed(call_id, language) if not isinstance(event, HungUp) else None

    def _failed(self, call_id: str, language: str | None) -> Turn:
        """Say so and hang up; the call is marked failed if the database lets us."""
        turn = Turn(_in_each(language, "technical_problem"), Hangup())
        try:
            with self.db.transaction() as session:
                row = service.lock(session, call_id)
                if row is not None and row.ended_at is None:
                    service.end(row, outcome=FAILED, now=self.now())
                    service.record_turn(session, row, step=row.state.get("step", ""), input="error", turn=turn,
                                        now=self.now())
        except Exception as exc:
            _log_failure("voice.mark_failed_failed", call_id, exc)
        return turn


def _log_failure(event: str, call_id: str, exc: BaseException, **details: str) -> None:
    """The error's type and where it happened, without its message: a database error's message quotes the
    statement's parameters, which may hold an OTP or a PIN's hash."""
    place = [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" for frame in traceback.extract_tb(exc.__traceback__)]
    log.error(event, call_id=call_id, error=type(exc).__name__, place=" < ".join(reversed(place[-6:])), **details)


def _language_menu(*, welcome: bool) -> tuple[Prompt, ...]:
    """1 中文, 2 Français, 3 English: each option said in its own language, after its greeting on a first turn."""
    return tuple(p for lang in CHOICES.values() for p in say(lang, *(["welcome"] if welcome else []),
                                                              f"choose_{lang[:2]}"))


def _in_each(language: str | None, name: str) -> tuple[Prompt, ...]:
    """A sentence in the call's language, or in all three before the caller chose one."""
    return say(language, name) if language else tuple(p for lang in LANGUAGES for p in say(lang, name))


class _Dialogue:
    """One event of one call: reads the state, answers the next turn, writes the state back."""

    def __init__(self, session: Session, settings: Settings, row: service.LiveCall, now: datetime) -> None:
        self.session, self.settings, self.row, self.now = session, settings, row, now
        self.state = dict(row.state)

    # -- the call's start and its events ---------------------------------------------------------------------------

    @classmethod
    def begin(cls, session: Session, settings: Settings, call: Call, now: datetime) -> Turn:
        line = lines.find_live_line(session, call.caller) if call.caller else None
        known = line is not None and service.language_known(session, line.id, line.msisdn)
        language = line.language if line is not None and known else None
        state = {"step": MENU if known else LANGUAGE, "lang": language, "own": line is not None,
                 "verified": line is not None, "invalid": 0, "silent": 0, "pins": 0, "refused": 0, "numbers": 0}
        row = service.start(session, call, line_id=line.id if line else None, language=language, state=state,
                            now=now)
        if row is None:  # the transport started this call twice: say what the first start said
            again = service.existing(session, call)
            return _turn_of(again.state["last"]) if again is not None and "last" in again.state else Turn(
                (), Hangup())
        dialogue = cls(session, settings, row, now)
        if known:
            turn = dialogue.ask(MENU, before=say(dialogue.lang, "welcome"))
        else:  # each language greets and offers itself: 欢迎致电simkeep。中文服务请按1。Bienvenue chez simkeep...
            dialogue.state["step"] = LANGUAGE
            turn = Turn(_language_menu(welcome=True), KEY)
        dialogue.done(turn, step="start", input="start")
        return turn

    def handle(self, event: Event) -> Turn | None:
        step = self.state["step"]
        if isinstance(event, HungUp):
            service.end(self.row, outcome=HUNG_UP, now=self.now)
            return self.done(None, step=step, input="hung_up")
        if isinstance(event, Silence) and not event.digits:
            self.state["entry"] = None
            return self.done(self.silence(step), step=step, input="silence")
        digits = event.digits if isinstance(event, Digits | Silence) else ""
        if not digits and self.state.get("entry"):  # the finishing key left over after a 15-digit PIN, a 6-digit code
            return self.done(_turn_of(self.state["last"]), step=step, input="#")  # it cut the answer short: again
        entry = self._digest(digits) if len(digits) > 1 else None
        if entry is not None and entry == self.state.get("entry"):
            return self.done(_turn_of(self.state["last"]), step=step, input="replay")  # the same entry again
        self.state["silent"] = 0
        self.state["entry"] = entry
        turn = _STEPS[step](self, digits)
        return self.done(turn, step=step, input="digits" if len(digits) > 1 else digits)

    def done(self, turn: Turn | None, *, step: str, input: str) -> Turn | None:
        """Record the turn and the state it leaves."""
        if turn is not None and isinstance(turn.then, Gather):
            self.state["last"] = _json_of(turn)
        if self.row.ended_at is not None:  # nothing typed outlives the call: the number, an entry's keyed hash
            self.state.pop("entry", None)
            self.state.pop("number", None)
        self.row.state = dict(self.state)
        self.row.language = self.state.get("lang")
        service.record_turn(self.session, self.row, step=step, input=input or "#", turn=turn, now=self.now)
        return turn

    # -- what each step asks, and what ends or repeats it ---------------------------------------------------------

    @property
    def lang(self) -> str:
        return self.state.get("lang") or EN

    def ask(self, step: str, *, before: tuple[Prompt, ...] = ()) -> Turn:
        """Go to `step`: what was to say first, then its question."""
        self.state["step"] = step
        if step == LANGUAGE:
            return Turn(before + _language_menu(welcome=False), KEY)
        lang = self.lang
        if step == MENU:
            options = ["menu_balance", "menu_card", "menu_link", "menu_repeat", "menu_agent"]
            return Turn(before + say(lang, *options, *(["menu_language"] if self.state["own"] else [])), KEY)
        if step == PIN:
            return Turn(before + say(lang, "pin_enter", "pin_back"), PIN_ENTRY)
        if step == NUMBER:
            return Turn(before + say(lang, "number_enter"), NUMBER_ENTRY)
        return Turn(before + say(lang, "code_enter", "code_card", "code_other_number"), CODE_ENTRY)

    def back(self, before: tuple[Prompt, ...] = ()) -> Turn:
        """After an action: the menu for a line the call may see, else the code step of the typed number."""
        return self.ask(MENU if self.state["verified"] else CODE, before=before)

    def invalid(self, step: str, before: tuple[Prompt, ...] | None = None) -> Turn:
        self.state["invalid"] = self.state.get("invalid", 0) + 1
        if self.state["invalid"] >= MAX_INVALID:
            return self.goodbye()
        return self.ask(step, before=_in_each(self.state.get("lang"), "invalid_key") if before is None else before)

    def silence(self, step: str) -> Turn:
        self.state["silent"] = self.state.get("silent", 0) + 1
        if self.state["silent"] >= MAX_SILENCES:
            return self.goodbye()
        return self.ask(step, before=_in_each(self.state.get("lang"), "no_input"))

    def goodbye(self, before: tuple[Prompt, ...] = ()) -> Turn:
        service.end(self.row, outcome=COMPLETED, now=self.now)
        return Turn(before + _in_each(self.state.get("lang"), "goodbye"), Hangup())

    def valid(self) -> None:
        self.state["invalid"] = 0

    def _digest(self, digits: str) -> str:
        """A keyed hash of an entry, to know it again without keeping it."""
        key = self.settings.key("voice").encode()
        return hmac.new(key, f"{self.row.id}:{digits}".encode(), hashlib.sha256).hexdigest()[:32]

    # -- the steps ----------------------------------------------------------------------------------------------------

    def on_language(self, digits: str) -> Turn:
        language = CHOICES.get(digits)
        if language is None:
            return self.invalid(LANGUAGE, before=())
        self.valid()
        self.state["lang"] = language
        if self.state["own"]:
            lines.set_language(self.session, self.row.line_id, language)
            service.did(self.row, "language_set", language=language)
            return self.ask(MENU, before=say(language, "language_saved"))
        if self.state["verified"]:
            return self.ask(MENU)
        return self.ask(NUMBER)

    def on_menu(self, digits: str) -> Turn:
        action = _MENU.get(digits)
        if action is None or (digits == "9" and not self.state["own"]):
            return self.invalid(MENU)
        self.valid()
        return action(self)

    def balance(self) -> Turn:
        line = self._line()
        if line is None:
            return self.goodbye(before=say(self.lang, "not_renewable"))
        view = lines.view(self.session, line)
        tz, lang = view.operator.timezone, self.lang
        today = self.now.astimezone(clock.zone(tz)).date()
        said = say(lang, "balance_is") + speech.amount(view.balance, lang)
        if line.state == ACTIVE:
            said += say(lang, "valid_until") + speech.day(last_date(line.validity_ends_at, tz), lang, today=today)
        else:
            said += (say(lang, "validity_ended") + speech.day(last_date(line.validity_ends_at, tz), lang, today=today)
                     + say(lang, "validity_ended_end") + say(lang, *_STATE_WORDS.get(line.state, ())))
        if line.state not in (DEACTIVATED, QUARANTINE):  # after those the number is lost: no date to keep it by
            said += (say(lang, "number_kept_until") + speech.day(last_date(line.number_loss_at, tz), lang, today=today)
                     + say(lang, "number_kept_until_end"))
        if not any(d["action"] == "balance_heard" for d in self.row.done):
            service.did(self.row, "balance_heard")
        self.state["said"] = _json_of(Turn(said, KEY))
        return self.ask(MENU, before=said)

    def card(self) -> Turn:
        if not (self.settings.voucher_pepper and self.settings.voucher_seal_key):
            return self.back(before=say(self.lang, "cards_unavailable"))
        return self.ask(PIN)

    def link(self) -> Turn:
        line = self._line()
        if line is None:
            return self.goodbye(before=say(self.lang, "not_renewable"))
        if self.state.get("link_sent"):
            return self.ask(MENU, before=say(self.lang, "link_already_sent"))
        renewal = links.RenewalLinks(self.settings.base_url, self.settings.key(links.PURPOSE))
        operator = catalog.get_operator(self.session, line.operator_id)
        outbox.enqueue(self.session, [outbox.Message(
            dedup_key=f"voice-link:{self.row.id}", topic="line.renew_link", channel=outbox.SMS, recipient=line.msisdn,
            language=self.lang, line_id=line.id, payload={
                "msisdn": line.msisdn, "number_loss_at": line.number_loss_at.isoformat(),
                "timezone": operator.timezone, "renew_url": renewal.url(line.msisdn, until=line.number_loss_at)})],
            now=self.now)
        self.state["link_sent"] = True
        service.did(self.row, "link_sent")
        return self.ask(MENU, before=say(self.lang, "link_sent"))

    def repeat(self) -> Turn:
        said = _turn_of(self.state["said"]).prompts if "said" in self.state else ()
        return self.ask(MENU, before=said)

    def agent(self) -> Turn:
        if not self.settings.voice_agent_uri:
            return self.ask(MENU, before=say(self.lang, "agent_unavailable"))
        service.did(self.row, "transferred")
        service.end(self.row, outcome=TRANSFERRED, now=self.now)
        return Turn(say(self.lang, "agent_transfer"), Transfer(self.settings.voice_agent_uri))

    def change_language(self) -> Turn:
        return self.ask(LANGUAGE)

    def menu_again(self) -> Turn:
        return self.ask(MENU)

    def on_pin(self, digits: str) -> Turn:
        if "*" in digits:
            self.valid()
            return self.back()
        if not digits:
            return self.invalid(PIN)
        self.valid()
        return self.redeem(digits)

    def redeem(self, pin: str) -> Turn:
        settings, lang = self.settings, self.lang
        if self.state.get("refused", 0) >= settings.voucher_failures_per_number:  # no more than a day allows
            return self.goodbye(before=say(lang, "card_locked"))
        self.state["pins"] += 1  # the attempt's number: its idempotency key
        number = self._number()
        receipt_id = new_id()
        receipt_url = f"{settings.base_url}/receipts/{receipts.token_for(settings.key('receipt'), receipt_id)}"
        try:
            with self.session.begin_nested():
                redemption = vouchers.redeem(
                    self.session, msisdn=number, pin=pin, via="ivr", principal=PRINCIPAL,
                    idempotency_key=f"{self.row.id}:{self.state['pins']}", client=f"ivr:{self.row.caller or ''}",
                    keys=pins.keys(settings), now=self.now, region=settings.default_region,
                    failures_allowed=settings.voucher_failures_per_number,
                    failure_hours=settings.voucher_failure_hours, notify={"receipt_url": receipt_url})
                result = redemption.result
                if result is not None and not result.replayed:
                    receipts.issue(self.session, receipt_id=receipt_id, topup=result.topup,
                                   operator_id=catalog.operator_of_offer(self.session, result.topup.offer_id),
                                   line_id=result.topup.line_id, payment_method=RECEIPT_METHOD, language=lang,
                                   now=self.now)
        except VoucherLocked:
            return self._locked()
        except ValidityCapReached:
            return self.back(before=say(lang, "card_cap"))
        except (LineNotFound, LineNotRenewable):
            # A typed number the caller has not proved: the answer a wrong PIN gets, so it tells nothing.
            if not self.state["verified"]:
                return self.ask(PIN, before=say(lang, "card_invalid"))
            return self.back(before=say(lang, "not_renewable"))
        if result is None:
            self.state["refused"] = self.state.get("refused", 0) + 1
            service.did(self.row, "card_refused")
            if vouchers.locked_until(self.session, number, now=self.now,
                                     failures_allowed=settings.voucher_failures_per_number,
                                     failure_hours=settings.voucher_failure_hours) is not None:
                return self._locked()
            return self.ask(PIN, before=say(lang, "card_invalid"))
        return self._accepted(result.topup, serial=redemption.serial)

    def _accepted(self, topup, *, serial: int | None) -> Turn:
        lang = self.lang
        service.did(self.row, "card_redeemed", serial=serial, topup_id=str(topup.id))
        if self.row.line_id is None:
            self.row.line_id = topup.line_id  # the call is on that line's history (the card proved the number)
        said = say(lang, "card_accepted", "credit_added") + speech.amount(Money(topup.price_minor, topup.currency),
                                                                           lang)
        operator = catalog.get_operator(self.session, catalog.operator_of_offer(self.session, topup.offer_id))
        if topup.validity_ends_at <= topup.validity_before:
            said += say(lang, "validity_unchanged")
        elif self.state["verified"]:
            today = self.now.astimezone(clock.zone(operator.timezone)).date()
            said += say(lang, "valid_until") + speech.day(last_date(topup.validity_ends_at, operator.timezone), lang,
                                                          today=today)
        else:  # what the portal shows a browser that did not verify the number: what the card did, no date
            days = catalog.get_offer(self.session, topup.offer_id, operator).validity_days
            said += say(lang, "validity_extended") + speech.days(days, lang)
        said += say(lang, "sms_confirmation")
        self.state["said"] = _json_of(Turn(said, KEY))
        return self.back(before=said)

    def _locked(self) -> Turn:
        service.did(self.row, "card_locked")
        return self.back(before=say(self.lang, "card_locked"))

    def on_number(self, digits: str) -> Turn:
        if "*" in digits or not digits:
            return self.invalid(NUMBER)
        if self.state["numbers"] >= self.settings.voice_numbers_per_call:
            return self.goodbye()
        self.state["numbers"] += 1
        try:
            number = lookup_msisdn(digits, self.settings.default_region)
        except InvalidMsisdn:
            return self.invalid(NUMBER, before=say(self.lang, "number_invalid"))
        self.valid()
        self.state["number"] = number
        try:
            challenge = otp.request_code(self.session, msisdn=number, secret=self.settings.key("otp"), now=self.now,
                                         policy=otp.policy_for(self.settings))
        except otp.ResendTooSoon:
            return self.ask(CODE, before=say(self.lang, "code_earlier"))
        except (otp.BudgetSpent, otp.TooManyCodes):
            return self.goodbye(before=say(self.lang, "code_closed"))
        return self.ask(CODE, before=say(self.lang, "code_sent" if challenge.new else "code_earlier"))

    def on_code(self, digits: str) -> Turn:
        if "*" in digits:  # a card for the typed number, without the code
            self.valid()
            return self.ask(PIN)
        if digits == "0":  # the number was mistyped, or another one
            self.valid()
            return self.ask(NUMBER)
        if not digits:
            return self.invalid(CODE)
        self.valid()
        verdict = otp.verify_code(self.session, msisdn=self.state["number"], code=digits,
                                  secrets=self.settings.verifying_keys("otp"), now=self.now,
                                  policy=otp.policy_for(self.settings))
        if verdict.outcome == otp.WRONG:
            return self.ask(CODE, before=say(self.lang, "code_wrong"))
        if verdict.outcome != otp.OK:
            return self.goodbye(before=say(self.lang, "code_closed"))
        line = lines.find_live_line(self.session, self.state["number"])
        if line is None:
            return self.goodbye(before=say(self.lang, "not_renewable"))
        self.state["verified"] = True
        self.row.line_id = line.id
        service.did(self.row, "code_verified")
        return self.ask(MENU)

    # -- the line the call is about -----------------------------------------------------------------------------------

    def _line(self) -> Line | None:
        return lines.find_live_line_by_id(self.session, self.row.line_id) if self.row.line_id else None

    def _number(self) -> str:
        """The number a card goes to: the line the call may see, else the number typed."""
        line = self._line() if self.state["verified"] else None
        return line.msisdn if line is not None else self.state.get("number") or self.row.caller or ""


_STEPS: dict[str, Callable[[_Dialogue, str], Turn]] = {
    LANGUAGE: _Dialogue.on_language, MENU: _Dialogue.on_menu, PIN: _Dialogue.on_pin, NUMBER: _Dialogue.on_number,
    CODE: _Dialogue.on_code}
_MENU: dict[str, Callable[[_Dialogue], Turn]] = {
    "1": _Dialogue.balance, "2": _Dialogue.card, "3": _Dialogue.link, "8": _Dialogue.repeat, "0": _Dialogue.agent,
    "9": _Dialogue.change_language, "*": _Dialogue.menu_again}
_STATE_WORDS = {GRACE: ("state_grace",), SUSPENDED: ("state_suspended",), DEACTIVATED: ("state_deactivated",),
                QUARANTINE: ("state_deactivated",)}


def _json_of(turn: Turn) -> dict:
    gather = turn.then if isinstance(turn.then, Gather) else KEY
    return {"prompts": [[p.language, p.name] for p in turn.prompts],
            "gather": [gather.max_digits, gather.finish_on, gather.timeout]}


def _turn_of(saved: dict) -> Turn:
    max_digits, finish_on, timeout = saved["gather"]
    return Turn(tuple(Prompt(lang, name) for lang, name in saved["prompts"]), Gather(max_digits, finish_on, timeout))
