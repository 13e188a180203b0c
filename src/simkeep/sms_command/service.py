"""SMS commands: parse what a subscriber texted, call the service the portal calls, answer through the outbox.

    SOLDE / BALANCE / 余额 / 查询        balance (credit + bonus), validity end and number-loss date, in one SMS
    RECHARGE <PIN> / 充值 <PIN>         redeem a card on the SENDER's line (voucher.service.redeem, via "sms")
    AIDE / HELP / 帮助 / ?              the command list
    LANG FR|EN|ZH / LANGUE / 语言        the line's language (line.service.set_language), confirmed in it
    STOP, STOP AUTO                    not ours: notification.service and plan.autorenew answer them

Keywords are read case-, accent- and width-insensitively (Ｓｏｌｄｅ, solde, 余额？), with any spacing; a Chinese
keyword may touch its PIN (充值123...). Any other text gets the command list. The reply speaks the keyword's
language (SOLDE: French, BALANCE: English, 余额: Chinese), or the line's where the keyword is shared (RECHARGE,
LANG, ?), and is addressed to the sender only: a command never names or touches another line. A sender with no
live line is told so once a day (nothing about any line; a subscriber writing from another phone learns where
to go instead of hearing nothing). Each sender gets `sms_commands_per_sender` answers, then one "too many
messages" reply per window, then silence: answering costs the operator an SMS each time.

Idempotency: notification.service.record_inbound stores the message first under its SMSC id or content digest
(UNIQUE), so a redelivered deliver_sm never reaches a command; the redemption's idempotency key is that same id,
and every reply's dedup key too, as a second fence."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import structlog
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.core.errors import SimkeepError, ValidityCapReached, VoucherLocked
from simkeep.core.ids import new_id
from simkeep.line import service as lines
from simkeep.line.links import RenewalLinks
from simkeep.line.models import Line
from simkeep.notification import outbox
from simkeep.notification.service import STOP_WORDS, Inbound
from simkeep.receipt import service as receipts
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers

log = structlog.get_logger()

BALANCE, RECHARGE, HELP, LANGUAGE = "balance", "recharge", "help", "language"
# keyword (as `normalize` writes it) -> (command, the language it is a word of; None: shared, the line's)
KEYWORDS: dict[str, tuple[str, str | None]] = {
    "SOLDE": (BALANCE, "fr"), "BALANCE": (BALANCE, "en"), "余额": (BALANCE, "zh_CN"), "查询": (BALANCE, "zh_CN"),
    "RECHARGE": (RECHARGE, None), "RECHARGER": (RECHARGE, "fr"), "TOPUP": (RECHARGE, "en"),
    "充值": (RECHARGE, "zh_CN"),
    "AIDE": (HELP, "fr"), "HELP": (HELP, "en"), "帮助": (HELP, "zh_CN"), "?": (HELP, None),
    "LANG": (LANGUAGE, None), "LANGUE": (LANGUAGE, "fr"), "LANGUAGE": (LANGUAGE, "en"), "语言": (LANGUAGE, "zh_CN"),
}
_BY_LENGTH = sorted(KEYWORDS, key=len, reverse=True)  # RECHARGER before RECHARGE
LANGUAGE_WORDS = {"FR": "fr", "FRANCAIS": "fr", "FRENCH": "fr", "EN": "en", "ENGLISH": "en", "ANGLAIS": "en",
                  "ZH": "zh_CN", "CN": "zh_CN", "CHINESE": "zh_CN", "CHINOIS": "zh_CN", "中文": "zh_CN",
                  "汉语": "zh_CN", "法语": "fr", "英语": "en"}
_TRAILING = ".!。！,，"
PRINCIPAL = "sms"  # whose idempotency keys the redemptions' are (the SMSC's message ids)
RECEIPT_METHOD = "voucher"


@dataclass(frozen=True, slots=True)
class Command:
    kind: str
    language: str | None  # the keyword's language, None when the keyword is shared
    argument: str = ""


def normalize(text: str) -> str:
    """Full-width folded (NFKC), accents dropped, upper case, single spaces, no trailing full stop."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFC", plain).upper().split()).rstrip(_TRAILING).strip()


def parse_command(text: str) -> Command | None:
    """The command a text is, or None (the text gets the command list). The longest keyword the text starts with,
    followed by nothing, a space, a digit, or anything after a Chinese keyword (充值123..., 余额？)."""
    words = normalize(text)
    for keyword in _BY_LENGTH:
        rest = words.removeprefix(keyword)
        if rest == words:
            continue
        if rest and not (rest[0] in " ?" or rest[0].isdigit() or not keyword.isascii()):
            continue
        kind, language = KEYWORDS[keyword]
        return Command(kind, language, rest.strip(" ?"))
    return None


def is_stop(text: str) -> bool:
    """STOP and STOP AUTO belong to the reminders and auto-renew: never answered with help."""
    words = " ".join(text.strip().upper().split())
    return words in STOP_WORDS or words.split(" ")[0] in STOP_WORDS


class SmsCommands:
    """The inbound command (notification.service.InboundCommand) the worker hands its SMPP link."""

    def __init__(self, settings: Settings, links: RenewalLinks) -> None:
        self.settings, self.links = settings, links
        options = {"key_prefix": settings.rate_limit_prefix} if settings.rate_limit_storage.startswith(
            ("redis", "rediss")) else {}
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage, **options))
        self.per_sender = parse(settings.sms_commands_per_sender)
        # One "too many messages" reply per window of the sender's limit.
        self.notice: RateLimitItem = type(self.per_sender)(1, self.per_sender.multiples)

    def __call__(self, session: Session, sms: Inbound, now: datetime) -> str | None:
        if is_stop(sms.text):
            return None
        if not (sms.sender.startswith("+") and sms.sender[1:].isdigit()):
            return "not a phone number"  # an alphanumeric sender (a network's own service): nobody to answer
        command = parse_command(sms.text) or Command(HELP, None)
        if not self.limiter.hit(self.per_sender, "sms-command", sms.sender):
            if not self.limiter.hit(self.notice, "sms-flood", sms.sender):
                return "rate limited"
            _reply(session, sms, "sms.too_many", command.language or _line_language(sms.line), {}, now=now)
            return "rate limited, told"
        if sms.line is None:
            _reply(session, sms, "sms.no_line", command.language or "en", {"portal_url": self.settings.base_url},
                   now=now, key=f"sms.no_line:{sms.sender}:{now.date().isoformat()}")
            return "no line"
        language = command.language or sms.line.language
        if command.kind == BALANCE:
            return self.balance(session, sms, sms.line, language, now)
        if command.kind == RECHARGE and not any(ch.isdigit() for ch in command.argument):
            _reply(session, sms, "sms.help", language, {}, now=now)  # no PIN at all: no try spent, the how-to
            return "help"
        if command.kind == RECHARGE:
            return self.recharge(session, sms, sms.line, command.argument, language, now)
        if command.kind == LANGUAGE:
            return self.language(session, sms, sms.line, command, language, now)
        _reply(session, sms, "sms.help", language, {}, now=now)
        return "help"

    def balance(self, session: Session, sms: Inbound, line: Line, language: str, now: datetime) -> str:
        view = lines.view(session, line)
        _reply(session, sms, "sms.balance", language, {
            "amount": view.balance.to_dict(), "validity_ends_at": line.validity_ends_at.isoformat(),
            "number_loss_at": line.number_loss_at.isoformat(), "timezone": view.operator.timezone,
            "renew_url": self.links.url(line.msisdn, until=line.number_loss_at)}, now=now)
        return "balance"

    def language(self, session: Session, sms: Inbound, line: Line, command: Command, language: str,
                 now: datetime) -> str:
        chosen = LANGUAGE_WORDS.get(command.argument.replace(" ", ""))
        if chosen is None:
            _reply(session, sms, "sms.help", language, {}, now=now)
            return "help"
        lines.set_language(session, line.id, chosen)
        _reply(session, sms, "sms.language", chosen, {}, now=now)
        return f"language {chosen}"

    def recharge(self, session: Session, sms: Inbound, line: Line, pin: str, language: str, now: datetime) -> str:
        """The card redeemed through the one redemption of every channel; its confirmation (with a receipt link, as
        the portal's) is the top-up's own SMS. A failure is committed (it counts towards the number's lockout);
        anything the redemption raised after writing is rolled back with its savepoint."""
        settings = self.settings
        receipt_id = new_id()
        receipt_url = f"{settings.base_url}/receipts/{receipts.token_for(settings.key('receipt'), receipt_id)}"
        try:
            with session.begin_nested():
                redemption = vouchers.redeem(
                    session, msisdn=line.msisdn, pin=pin, via="sms", principal=PRINCIPAL,
                    idempotency_key=sms.message_id or new_id().hex, client=f"sms:{sms.sender}",
                    keys=pins.keys(settings), now=now, region=settings.default_region,
                    failures_allowed=settings.voucher_failures_per_number,
                    failure_hours=settings.voucher_failure_hours, notify={"receipt_url": receipt_url})
        except VoucherLocked:
            self.tell_if_locked(session, sms, line, language, now)
            return "card locked"
        except ValidityCapReached:
            _reply(session, sms, "sms.card_cap", language, {}, now=now)
            return "card kept: validity cap"
        except SimkeepError as error:  # the line cannot be renewed, vouchers not set up: the card stays unused
            log.info("sms.recharge_refused", error=error.code)
            _reply(session, sms, "sms.card_invalid", language, {}, now=now)
            return f"card refused: {error.code}"[:60]
        if redemption.result is None:  # the last try allowed is answered with the lockout and how to get help
            if not self.tell_if_locked(session, sms, line, language, now):
                _reply(session, sms, "sms.card_invalid", language, {}, now=now)
            return f"card not valid: {redemption.failure}"[:60]
        topup = redemption.result.topup
        if not redemption.result.replayed:
            receipts.issue(session, receipt_id=receipt_id, topup=topup,
                           operator_id=catalog.operator_of_offer(session, topup.offer_id), line_id=topup.line_id,
                           payment_method=RECEIPT_METHOD, language=language, now=now)
        return f"card {redemption.serial} redeemed"


    def tell_if_locked(self, session: Session, sms: Inbound, line: Line, language: str, now: datetime) -> bool:
        """Answer the lockout (for how long, and the other ways to recharge) if the number is locked now."""
        until = vouchers.locked_until(session, line.msisdn, now=now,
                                      failures_allowed=self.settings.voucher_failures_per_number,
                                      failure_hours=self.settings.voucher_failure_hours)
        if until is None:
            return False
        _reply(session, sms, "sms.card_locked", language, {
            "retry_hours": max(1, math.ceil((until - now).total_seconds() / 3600)),
            "renew_url": self.links.url(line.msisdn, until=line.number_loss_at)}, now=now)
        return True


def _line_language(line: Line | None) -> str:
    return line.language if line is not None else "en"


def _reply(session: Session, sms: Inbound, topic: str, language: str, payload: dict, *, now: datetime,
           key: str | None = None) -> None:
    """One answer to the sender, sent at once (they just asked: no quiet hours). Keyed on the message's id, so
    that the same message never gets two answers."""
    outbox.enqueue(session, [outbox.Message(
        dedup_key=key or f"sms:{sms.message_id or new_id().hex}:{topic}", topic=topic, channel=outbox.SMS,
        recipient=sms.sender, language=language, line_id=sms.line.id if sms.line else None,
        payload={"msisdn": sms.sender, **payload})], now=now)
