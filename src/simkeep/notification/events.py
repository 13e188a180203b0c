"""Events for the operator's own systems (topup.completed, payment.refunded, line.state_changed): one signed
webhook per subscribed endpoint, delivered from the outbox with retries and a delivery log."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from simkeep.core.errors import InvalidInput
from simkeep.core.ids import new_id
from simkeep.notification import outbox
from simkeep.notification.models import WebhookEndpoint

TOPICS = ("topup.completed", "payment.refunded", "line.state_changed")
_CACHE_SECONDS = 30.0  # a new endpoint starts receiving within this delay in other processes
_cache: dict[str, tuple[float, list[tuple[uuid.UUID, str, list[str]]]]] = {}


def add_endpoint(session: Session, *, url: str, topics: list[str], now: datetime) -> tuple[WebhookEndpoint, str]:
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("The endpoint must be an http(s) URL.")
    unknown = set(topics) - set(TOPICS)
    if unknown or not topics:
        raise InvalidInput(f"topics must be among {', '.join(TOPICS)}")
    secret = f"whsec_{secrets.token_urlsafe(24)}"
    row = dict(id=new_id(), url=url, secret=secret, topics=sorted(set(topics)), active=True, created_at=now)
    session.execute(insert(WebhookEndpoint.__table__), [row])
    forget_endpoints()
    return WebhookEndpoint(**row), secret


def forget_endpoints() -> None:
    _cache.clear()


def _endpoints(session: Session) -> list[tuple[uuid.UUID, str, list[str]]]:
    key = str(session.get_bind().engine.url)
    hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    rows = [(e.id, e.url, e.topics) for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active))]
    _cache[key] = (time.monotonic() + _CACHE_SECONDS, rows)
    return rows


def event_messages(session: Session, *, topic: str, key: str, data: dict, line_id, now: datetime,
                   log_without_endpoint: bool = False) -> list[outbox.Message]:
    """The messages announcing one event; `key` makes the event id stable across retries and repeats.
    With no subscribed endpoint nothing is sent, unless the event is kept in the operator's event log
    (lifecycle transitions, which have no other record for quarantine and the return to the pool)."""
    event_id = f"evt_{uuid.uuid5(uuid.NAMESPACE_URL, f'{topic}:{key}').hex}"
    body = {"id": event_id, "type": topic, "created": int(now.timestamp()), "data": data}
    targets = [(endpoint_id, url) for endpoint_id, url, topics in _endpoints(session) if topic in topics]
    if not targets:
        if not log_without_endpoint:
            return []
        return [outbox.Message(dedup_key=f"event:{topic}:{key}", topic=topic, channel=outbox.EVENT,
                               recipient=outbox.OPERATOR, language="en", payload=body, line_id=line_id)]
    return [outbox.Message(dedup_key=f"event:{topic}:{key}:{endpoint_id}", topic=topic, channel=outbox.WEBHOOK,
                           recipient=url, language="en", payload=body, line_id=line_id)
            for endpoint_id, url in targets]


def secret_for(session: Session, url: str) -> str | None:
    return session.scalar(select(WebhookEndpoint.secret).where(WebhookEndpoint.url == url))


def line_state_changed(session: Session, line, from_state: str, to_state: str, now: datetime) -> list[outbox.Message]:
    """`line.state_changed` for the operator's own systems: once per line, validity period and new state."""
    return event_messages(
        session, topic="line.state_changed", key=f"{line.id}:{line.validity_ends_at.isoformat()}:{to_state}",
        line_id=line.id, now=now, log_without_endpoint=True,
        data={"line_id": str(line.id), "msisdn": line.msisdn, "from": from_state, "to": to_state, "at": now.isoformat()})
