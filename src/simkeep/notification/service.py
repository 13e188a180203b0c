"""Delivery of outbox messages: lease, send outside any transaction, record the outcome."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.core.errors import InvalidInput, NotFound
from simkeep.line import service as lines
from simkeep.line.models import Line
from simkeep.notification import outbox, repository, templates
from simkeep.notification.models import InboundMessage, OutboxMessage
from simkeep.notification.senders.base import CONTENT_ID, Outgoing, Sent, UssdIn

BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(hours=1)


def claim_due(session: Session, *, now: datetime, limit: int = 100, lease_seconds: int = 60,
              channel: str | None = None) -> list[Outgoing]:
    return [_outgoing(m, now) for m in repository.claim_due(session, now=now, limit=limit,
                                                             lease=timedelta(seconds=lease_seconds), channel=channel)]


@dataclass(frozen=True, slots=True)
class QueueDepth:
    channel: str
    pending: int
    overdue_seconds: float  # how long the most overdue message has been due (0: none is due yet)


def queue_depth(session: Session, *, now: datetime) -> list[QueueDepth]:
    """The outbox per channel: messages waiting, and how late the most overdue one is. A message held back by quiet
    hours is waiting but not late, so the age counts from when it is due, not from when it was written."""
    return [QueueDepth(channel, pending, max(0.0, (now - earliest).total_seconds()))
            for channel, pending, earliest in repository.pending_by_channel(session)]


def lease_end(now: datetime, lease_seconds: float) -> datetime:
    """When a lease taken at `now` ends: the value claim_due stores, which also fences its renewals."""
    return now + timedelta(seconds=lease_seconds)


def renew_lease(session: Session, ids: list, *, held_until: datetime, now: datetime, lease_seconds: float) -> set:
    """Renew the lease on the messages still held; returns their ids (the others were taken over)."""
    return repository.renew_lease(session, ids, held_until=held_until, until=lease_end(now, lease_seconds))


def release(session: Session, ids: list, *, held_until: datetime) -> int:
    return repository.release(session, ids, held_until=held_until)


def _outgoing(message: OutboxMessage, now: datetime) -> Outgoing:
    """Texts are rendered when sent, so a reminder's countdown is right even if it waited (quiet hours); a USSD
    screen was written by the menu as it answered."""
    for_people = message.channel in ("sms", "email")
    text = (templates.render(message.topic, message.language, message.payload, now=now) if for_people
            else message.payload["text"] if message.channel == outbox.USSD
            else f"{message.topic} {message.payload.get('id', '')}".strip())
    return Outgoing(id=message.id, topic=message.topic, channel=message.channel, recipient=message.recipient,
                    language=message.language, payload=message.payload, attempt=message.attempts, text=text,
                    request_id=message.request_id)


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff: 5 s, 10 s, 20 s ... capped at an hour."""
    return min(BASE_DELAY * (2 ** max(attempt - 1, 0)), MAX_DELAY)


SECRET_TOPICS = ("otp.code",)  # delivered or given up, then scrubbed: a sign-in code must not outlive its SMS
REDACTED = "******"


def scrub(message: Outgoing, text: str | None) -> str | None:
    """`text` (a receiver's answer, an error) without the message's secret: an SMSC or mail server may quote the
    message back in its error, and errors go to the delivery log, the outbox row and the worker's log."""
    secret = str(message.payload.get("code", "")) if message.topic in SECRET_TOPICS else ""
    return text.replace(secret, REDACTED) if text and secret else text


def record_sent(session: Session, message: Outgoing, *, sent: Sent | None = None, now: datetime) -> None:
    sent = sent or Sent()
    if not repository.mark_sent(session, message.id, external_id=sent.external_id, now=now):
        return  # recorded already
    repository.log_attempt(session, message.id, attempt=message.attempt, outcome="sent",
                           detail=scrub(message, sent.detail), now=now)
    _redact(session, message)


def record_failure(session: Session, message: Outgoing, *, error: str, permanent: bool, max_attempts: int,
                   now: datetime) -> bool:
    """Schedule a retry with backoff, or give up; returns True if the message failed for good. A sign-in code
    that failed for good is scrubbed as a sent one is: nobody will ever need it."""
    error = scrub(message, error) or ""
    if permanent or message.attempt >= max_attempts:
        repository.mark_failed(session, message.id, error=error)
        repository.log_attempt(session, message.id, attempt=message.attempt, outcome="failed", detail=error, now=now)
        _redact(session, message)
        if message.channel == "sms":
            email_fallback(session, repository.get(session, message.id), now=now)
        return True
    repository.mark_retry(session, message.id, error=error, at=now + retry_delay(message.attempt))
    repository.log_attempt(session, message.id, attempt=message.attempt, outcome="retry", detail=error, now=now)
    return False


def _redact(session: Session, message: Outgoing) -> None:
    if message.topic in SECRET_TOPICS:
        repository.redact(session, message.id, {**message.payload, "code": REDACTED})


def delivery_log(session: Session, message_id) -> list:
    return repository.delivery_log(session, message_id)


def recent(session: Session, *, status: str | None = None, limit: int = 50) -> list[OutboxMessage]:
    return repository.recent(session, status=status, limit=limit)


def for_line(session: Session, line_id, *, before: datetime | None = None, limit: int = 50) -> list[OutboxMessage]:
    return repository.for_line(session, line_id, before=before, limit=limit)


# Delivery receipt states (SMPP "stat" field): these end a message's life without reaching the phone.
UNDELIVERED = ("UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN")
STOP_WORDS = ("STOP", "STOPSMS", "STOP SMS", "ARRET", "ARRÊT", "TD", "退订", "取消")


def record_receipt(session: Session, *, external_id: str, status: str, now: datetime) -> bool:
    """A delivery receipt for a message we sent; False if we know no message by that id. An undeliverable SMS
    falls back to e-mail when the subscriber gave one."""
    message = repository.by_external_id(session, external_id)
    if message is None:
        return False
    repository.set_receipt(session, message.id, status=status, at=now)
    if status.upper() in UNDELIVERED and message.channel == "sms":
        email_fallback(session, message, now=now)
    return True


def email_fallback(session: Session, message: OutboxMessage, *, now: datetime) -> None:
    """The same message by e-mail, when the SMS cannot reach the phone (never for sign-in codes)."""
    if message.topic in SECRET_TOPICS or message.line_id is None:
        return
    email = lines.email_of(session, message.line_id)
    if email:
        outbox.enqueue(session, [outbox.Message(
            dedup_key=f"{message.dedup_key}:email", topic=message.topic, channel=outbox.EMAIL, recipient=email,
            language=message.language, payload=message.payload, line_id=message.line_id)], now=now)


DUPLICATE = "duplicate"
# How long a message id names one message. An SMSC sends a deliver_sm again when our answer was lost: within
# minutes, or after a rebind hours later. Its own ids are unique for a while, then its counters wrap; an id made
# from the content (senders.base.CONTENT_ID) comes back whenever the same text is sent again.
SMSC_ID_SPAN = timedelta(days=1)
CONTENT_ID_SPAN = timedelta(minutes=10)
_DIGITS = re.compile(r"\d(?:[\d .\-\u00a0\u3000]*\d)?")


@dataclass(frozen=True, slots=True)
class Inbound:
    """An SMS from a subscriber, as a command sees it."""

    sender: str
    text: str
    message_id: str | None  # unique per message (the redelivery of one has the same): a command's idempotency key
    line: Line | None  # the sender's live line


# An inbound SMS command of a domain above this one (STOP AUTO turns auto-renew off, SOLDE answers the balance):
# (session, message, now) → what it did, or None when the text is not its command. The worker passes them in.
InboundCommand = Callable[[Session, Inbound, datetime], "str | None"]


def conceal(text: str) -> str:
    """The text as it is stored: every run of digits masked. A card PIN (with or without its keyword, spaced or
    not) or a code has no business in the inbound log, and nobody needs the digits of a command to read it."""
    return _DIGITS.sub("****", text)


def record_inbound(session: Session, *, sender: str, text: str, now: datetime, message_id: str | None = None,
                   commands: Sequence[InboundCommand] = ()) -> str:
    """An SMS from a subscriber, stored first (digits masked) under its UNIQUE `message_id`: a message stored
    already is a redelivery and does nothing again ("duplicate"; a racing twin waits for the first transaction on
    the key, then finds it). Then a command (`commands`, tried in order: "STOP AUTO" is not "STOP") does what it
    says; STOP (and its French and Chinese forms) stops reminders, confirmed once."""
    external_id, earlier = _inbound_ids(message_id, now)
    if earlier and repository.inbound_known(session, earlier):
        return DUPLICATE
    line = lines.find_live_line(session, sender)
    inbound_id = repository.add_inbound(session, sender=sender, text=conceal(text)[:1000], outcome="received",
                                        now=now, external_id=external_id, line_id=line.id if line else None)
    if inbound_id is None:
        return DUPLICATE
    message = Inbound(sender=sender, text=text, message_id=external_id, line=line)
    outcome = None
    for command in commands:
        if (outcome := command(session, message, now)) is not None:
            break
    if outcome is None:
        outcome = "ignored"
        if text.strip().upper() in STOP_WORDS:
            outcome = "opted out" if opt_out(session, msisdn=sender, now=now) else "no line"
    repository.set_inbound_outcome(session, inbound_id, outcome)
    return outcome


def _inbound_ids(message_id: str | None, now: datetime) -> tuple[str | None, list[str]]:
    """(the id to store, the id under which the same message may be stored already). An id is kept per window of
    its span and also looked up in the previous window: a redelivery is recognised for one to two spans after the
    first delivery, and a reused id (or the same text) after that is a new message."""
    if message_id is None:
        return None, []
    span = CONTENT_ID_SPAN if message_id.startswith(CONTENT_ID) else SMSC_ID_SPAN
    window = int(now.timestamp() // span.total_seconds())
    return f"{message_id}@{window}", [f"{message_id}@{window - 1}"]


def inbound_for_line(session: Session, line_id, *, before: datetime | None = None,
                     limit: int = 50) -> list[InboundMessage]:
    return repository.inbound_for_line(session, line_id, before=before, limit=limit)


def opt_out(session: Session, *, msisdn: str, now: datetime) -> bool:
    """No more reminders for the number's live line, confirmed by one last message. Idempotent."""
    line = lines.find_live_line(session, msisdn)
    if line is None:
        return False
    if line.reminders_opted_out_at is None:
        lines.set_reminders_opted_out(session, line.id, at=now)
        outbox.enqueue(session, [outbox.Message(
            dedup_key=f"optout:{line.id}:{now.date().isoformat()}", topic="reminders.stopped", channel=outbox.SMS,
            recipient=msisdn, language=line.language, line_id=line.id, payload={"msisdn": msisdn})], now=now)
    return True


def opt_in(session: Session, *, msisdn: str) -> bool:
    line = lines.find_live_line(session, msisdn)
    if line is None:
        return False
    lines.set_reminders_opted_out(session, line.id, at=None)
    return True


# The USSD menu of the domain above (simkeep.ussd): (session, PDU, now) → True when it queued an answer.
UssdMenu = Callable[[Session, UssdIn, datetime], bool]


# -- sent again by staff ----------------------------------------------------------------------------------------------

class ConfirmationNotFound(NotFound):
    code, message = "confirmation_not_found", "This line has no confirmation for that top-up."


class ResendChannelInvalid(InvalidInput):
    code, message = "resend_channel_invalid", "Choose SMS and/or e-mail; e-mail only when the line has an address."


def resend_topup_confirmation(session: Session, *, line: Line, topup_id, channels: list[str], key: str,
                              now: datetime) -> int:
    """The confirmation of one of the line's top-ups, queued again (same text and details as the first one) to the
    line's number and/or e-mail under `topup.completed:<id>:resend:<key>:<channel>`: a new message, sent once per
    key. Returns how many were queued (0 when this key was used already)."""
    original = repository.by_dedup_key(session, f"topup.completed:{topup_id}")
    if original is None or original.line_id != line.id:
        raise ConfirmationNotFound()
    wanted = set(channels)
    if not wanted or not wanted <= {outbox.SMS, outbox.EMAIL} or (outbox.EMAIL in wanted and not line.email):
        raise ResendChannelInvalid()
    recipients = {outbox.SMS: line.msisdn, outbox.EMAIL: line.email or ""}
    messages = [outbox.Message(dedup_key=f"topup.completed:{topup_id}:resend:{key}:{channel}", topic=original.topic,
                               channel=channel, recipient=recipients[channel], language=line.language,
                               line_id=line.id, payload=original.payload)
                for channel in sorted(wanted)]
    known = {m.dedup_key for m in messages if repository.by_dedup_key(session, m.dedup_key) is not None}
    outbox.enqueue(session, [m for m in messages if m.dedup_key not in known], now=now)
    return len(messages) - len(known)
