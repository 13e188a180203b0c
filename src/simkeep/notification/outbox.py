"""The only writer of outbox rows. Messages are written in the business transaction; `dedup_key` is UNIQUE, so
writing the same message twice (a repeated sweep, a racing worker) stores it once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.core.clock import after_quiet_hours
from simkeep.core.ids import new_id
from simkeep.core.logs import current_request_id
from simkeep.db import insert_or_ignore
from simkeep.notification.models import PENDING, OutboxMessage

SMS, EMAIL, EVENT, WEBHOOK, USSD = "sms", "email", "event", "webhook", "ussd"
OPERATOR = "operator"  # recipient of events for the operator's own systems


@dataclass(frozen=True, slots=True)
class Message:
    dedup_key: str
    topic: str
    channel: str
    recipient: str
    language: str
    payload: dict
    line_id: uuid.UUID | None = None
    # The subscriber's time zone: a message due inside quiet hours waits for the morning. None: send at once
    # (sign-in codes, events for systems).
    quiet_tz: str | None = None


def enqueue(session: Session, messages: list[Message], *, now: datetime) -> None:
    """Store messages for delivery; a message whose dedup key is already stored is skipped."""
    if not messages:
        return
    request_id = current_request_id()
    rows = [{
        "id": new_id(), "dedup_key": m.dedup_key, "topic": m.topic, "channel": m.channel, "recipient": m.recipient,
        "language": m.language, "line_id": m.line_id, "payload": m.payload, "status": PENDING, "attempts": 0,
        "next_attempt_at": after_quiet_hours(now, m.quiet_tz) if m.quiet_tz else now, "locked_until": None, "last_error": None, "created_at": now, "sent_at": None,
        "request_id": request_id,
    } for m in messages]
    # No RETURNING: with it a bulk insert becomes one giant statement the driver re-parses every time (a sweep
    # spent half its time there); plain executemany is pipelined.
    session.connection().execute(insert_or_ignore(session, OutboxMessage.__table__),
                                 rows if len(rows) > 1 else rows[0])
