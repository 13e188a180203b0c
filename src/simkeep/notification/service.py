"""Delivery of outbox messages: lease, send outside any transaction, record the outcome."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.notification import repository, templates
from simkeep.notification.models import OutboxMessage
from simkeep.notification.senders.base import Outgoing

BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(hours=1)


def claim_due(session: Session, *, now: datetime, limit: int = 100, lease_seconds: int = 60) -> list[Outgoing]:
    return [_outgoing(m) for m in repository.claim_due(session, now=now, limit=limit,
                                                        lease=timedelta(seconds=lease_seconds))]


def _outgoing(message: OutboxMessage) -> Outgoing:
    for_people = message.channel in ("sms", "email")
    text = (templates.render(message.topic, message.language, message.payload) if for_people
            else f"{message.topic} {message.payload.get('id', '')}".strip())
    return Outgoing(id=message.id, topic=message.topic, channel=message.channel, recipient=message.recipient,
                    language=message.language, payload=message.payload, attempt=message.attempts, text=text)


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff: 5 s, 10 s, 20 s ... capped at an hour."""
    return min(BASE_DELAY * (2 ** max(attempt - 1, 0)), MAX_DELAY)


SECRET_TOPICS = ("otp.code",)  # delivered, then scrubbed: a sign-in code must not outlive its SMS


def record_sent(session: Session, message: Outgoing, *, detail: str | None = None, now: datetime) -> None:
    repository.mark_sent(session, message.id, now=now)
    repository.log_attempt(session, message.id, attempt=message.attempt, outcome="sent", detail=detail, now=now)
    if message.topic in SECRET_TOPICS:
        repository.redact(session, message.id, {**message.payload, "code": "******"})


def record_failure(session: Session, message: Outgoing, *, error: str, permanent: bool, max_attempts: int,
                   now: datetime) -> bool:
    """Schedule a retry with backoff, or give up; returns True if the message failed for good."""
    if permanent or message.attempt >= max_attempts:
        repository.mark_failed(session, message.id, error=error)
        repository.log_attempt(session, message.id, attempt=message.attempt, outcome="failed", detail=error, now=now)
        return True
    repository.mark_retry(session, message.id, error=error, at=now + retry_delay(message.attempt))
    repository.log_attempt(session, message.id, attempt=message.attempt, outcome="retry", detail=error, now=now)
    return False


def delivery_log(session: Session, message_id) -> list:
    return repository.delivery_log(session, message_id)


def recent(session: Session, *, status: str | None = None, limit: int = 50) -> list[OutboxMessage]:
    return repository.recent(session, status=status, limit=limit)


def for_line(session: Session, line_id, *, before: datetime | None = None, limit: int = 50) -> list[OutboxMessage]:
    return repository.for_line(session, line_id, before=before, limit=limit)
