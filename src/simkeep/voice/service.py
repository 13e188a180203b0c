"""The hotline's calls as records: a call is stored when it starts, each turn as it is said, the outcome when it
ends; a line's history reads them back. The dialogue itself is menu.py."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.core.ids import new_id
from simkeep.voice import repository
from simkeep.voice.flow import Call, Gather, Hangup, Transfer, Turn
from simkeep.voice.models import VoiceCall, VoiceTurn


def start(session: Session, call: Call, *, line_id: uuid.UUID | None, language: str | None, state: dict,
          now: datetime) -> VoiceCall | None:
    """Record a new call; None if the transport already started this one."""
    row = dict(id=new_id(), call_id=call.call_id[:128], transport=call.transport, caller=call.caller,
               called=call.called[:64], line_id=line_id, language=language, state=state, done=[], turns=0,
               outcome=None, started_at=now, updated_at=now, ended_at=None)
    if not repository.add_call(session, row):
        return None
    return repository.get(session, call.transport, call.call_id[:128])


def existing(session: Session, call: Call) -> VoiceCall | None:
    return repository.get(session, call.transport, call.call_id[:128])


def lock(session: Session, call_id: str) -> VoiceCall | None:
    """The call an event belongs to, locked for the event's transaction."""
    return repository.lock(session, call_id[:128])


def language_known(session: Session, line_id: uuid.UUID, msisdn: str) -> bool:
    """Whether the line, calling from its own number, already chose the hotline's language (an earlier call)."""
    return repository.language_known(session, line_id, msisdn)


def record_turn(session: Session, call: VoiceCall, *, step: str, input: str, turn: Turn | None,
                now: datetime) -> None:
    """One turn said: its prompts, for staff and tests (what the menu said, never what was typed)."""
    call.turns += 1
    call.updated_at = now
    then = "none" if turn is None else _kind(turn.then)
    repository.add_turn(session, dict(
        id=new_id(), call_id=call.id, seq=call.turns, step=step, input=input[:16],
        prompts=[f"{p.language}/{p.name}" for p in turn.prompts] if turn else [], then=then, at=now))


def end(call: VoiceCall, *, outcome: str, now: datetime) -> None:
    call.outcome = outcome
    call.ended_at = call.updated_at = now


def did(call: VoiceCall, action: str, **details) -> None:
    """Note what the call did, for the line's history (a balance heard, a card redeemed, a link sent)."""
    call.done = [*call.done, {"action": action, **details}]


def for_line(session: Session, line_id: uuid.UUID, *, before: datetime | None = None,
             limit: int = 50) -> list[VoiceCall]:
    return repository.for_line(session, line_id, before=before, limit=limit)


def turns(session: Session, call: VoiceCall) -> list[VoiceTurn]:
    return repository.turns(session, call.id)


def _kind(then: Gather | Transfer | Hangup) -> str:
    return {Gather: "gather", Transfer: "transfer", Hangup: "hangup"}[type(then)]
