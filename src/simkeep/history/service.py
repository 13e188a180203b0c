"""A line's history across domains, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.charge import service as charges
from simkeep.line import repository as line_repository
from simkeep.line.models import Line
from simkeep.notification import service as notifications
from simkeep.topup import service as topups
from simkeep.ussd import service as ussd
from simkeep.voice import service as calls


def history(session: Session, line: Line, *, before: datetime | None, limit: int) -> tuple[list[dict], str | None]:
    """Items older than `before`; a page never splits items that share one instant, so the cursor is exact."""
    fetch = limit + 10
    items = (
        [_topup(t) for t in topups.for_line(session, line.id, before=before, limit=fetch)]
        + [_charge(c) for c in charges.for_line(session, line.id, before=before, limit=fetch)]
        + [_event(e) for e in line_repository.events(session, line.id, before=before, limit=fetch)]
        + [_message(m) for m in notifications.for_line(session, line.id, before=before, limit=fetch)]
        + [_ussd(s) for s in ussd.sessions_for_line(session, line.id, before=before, limit=fetch)]
        + [_inbound(m) for m in notifications.inbound_for_line(session, line.id, before=before, limit=fetch)]
        + [_call(c) for c in calls.for_line(session, line.id, before=before, limit=fetch)]
    )
    items.sort(key=lambda item: (item["at"], item["type"], item["id"]), reverse=True)
    if len(items) <= limit:
        return items, None
    page = items[:limit]
    page += [item for item in items[limit:] if item["at"] == page[-1]["at"]]
    return page, page[-1]["at"].isoformat()


def _topup(t) -> dict:
    return {"type": "topup", "id": str(t.id), "at": t.created_at, "offer_id": t.offer_id, "channel": t.channel,
            "amount": {"amount_minor": t.price_minor, "currency": t.currency},
            "bonus": {"amount_minor": t.bonus_minor, "currency": t.currency},
            "validity_ends_at": t.validity_ends_at.isoformat(), "status": t.status}


def _charge(c) -> dict:
    return {"type": "charge", "id": str(c.id), "at": c.created_at, "kind": c.kind,
            "amount": {"amount_minor": c.amount_minor, "currency": c.currency}}


def _event(e) -> dict:
    return {"type": "state_change", "id": str(e.id), "at": e.at, "from": e.from_state, "to": e.to_state,
            "reason": e.reason}


def _message(m) -> dict:
    return {"type": "notification", "id": str(m.id), "at": m.created_at, "topic": m.topic, "channel": m.channel,
            "status": m.status, "attempts": m.attempts}


def _ussd(s) -> dict:
    """A USSD session (*100#): when, and how it ended (exit, renewed, timeout, locked ...; None while open)."""
    return {"type": "ussd_session", "id": str(s.id), "at": s.started_at, "channel": "ussd", "outcome": s.outcome}


def _call(c) -> dict:
    """A call to the hotline: how it went and what it did (a balance heard, a card redeemed, a link sent)."""
    ended = c.ended_at or c.updated_at
    return {"type": "call", "id": str(c.id), "at": c.started_at, "transport": c.transport, "language": c.language,
            "duration_seconds": round((ended - c.started_at).total_seconds()), "outcome": c.outcome,
            "done": list(c.done)}


def _inbound(m) -> dict:
    """An SMS the subscriber sent (a command, a STOP), digits masked, with what simkeep did."""
    return {"type": "sms_command", "id": str(m.id), "at": m.received_at, "text": m.text, "outcome": m.outcome}
