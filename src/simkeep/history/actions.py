"""What staff do from a line's timeline: a note, a top-up confirmation sent again, reminders paused or resumed. Each
is one transaction with its audit row (who, why); the audit row names the line by its id and holds no number,
e-mail or note text, so erasing a subscriber never touches the audit log. Refunds are not here: they go through the
one refund path (payment.flow.refund), which audits itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.catalog import service as catalog
from simkeep.core.clock import zone
from simkeep.core.errors import InvalidInput
from simkeep.line import service as lines
from simkeep.line.models import Line, LineNote
from simkeep.notification import service as notifications

SUBJECT = "line"


class ReasonRequired(InvalidInput):
    code, message = "reason_required", "A reason is required for the audit log."


def add_note(session: Session, *, line: Line, actor: str, text: str, now: datetime) -> LineNote:
    note = lines.add_note(session, line=line, author=actor, text=text, now=now)
    audit.record(session, actor=actor, action="line.note_added", subject_type=SUBJECT, subject_id=str(line.id),
                 reason="staff note on the line", details={"note_id": str(note.id), "chars": len(note.text)}, now=now)
    return note


def resend_confirmation(session: Session, *, line: Line, topup_id, channels: list[str], key: str, actor: str,
                        reason: str, now: datetime) -> int:
    """The top-up's confirmation again, by SMS and/or e-mail, through the outbox under a new dedup key (`key`: one
    per form, so a double submit sends once). Returns how many messages were queued."""
    _need(reason)
    queued = notifications.resend_topup_confirmation(session, line=line, topup_id=topup_id, channels=channels,
                                                     key=key, now=now)
    audit.record(session, actor=actor, action="line.confirmation_resent", subject_type=SUBJECT,
                 subject_id=str(line.id), reason=reason,
                 details={"topup_id": str(topup_id), "channels": sorted(set(channels)), "queued": queued}, now=now)
    return queued


def pause_reminders(session: Session, *, line: Line, until: date, actor: str, reason: str, now: datetime) -> datetime:
    """No reminder before the start of `until` in the operator's zone; returns that instant."""
    _need(reason)
    operator = catalog.get_operator(session, line.operator_id)
    start = datetime.combine(until, time(0), tzinfo=zone(operator.timezone)).astimezone(UTC)
    lines.pause_reminders(session, line=line, until=start, now=now)
    audit.record(session, actor=actor, action="line.reminders_paused", subject_type=SUBJECT, subject_id=str(line.id),
                 reason=reason, details={"until": start.isoformat()}, now=now)
    return start


def resume_reminders(session: Session, *, line: Line, actor: str, reason: str, now: datetime) -> None:
    _need(reason)
    if not lines.reminders_paused(line, now):
        raise lines.PauseInvalid("Reminders of this line are not paused.")
    lines.resume_reminders(session, line=line, now=now)
    audit.record(session, actor=actor, action="line.reminders_resumed", subject_type=SUBJECT, subject_id=str(line.id),
                 reason=reason, now=now)


def _need(reason: str) -> None:
    if not (reason or "").strip():
        raise ReasonRequired()
