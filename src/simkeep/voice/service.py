"""The hotline's calls as records: a call is stored when it starts, each turn as it is said, the outcome when it
ends; a line's history reads them back. The dialogue itself is menu.py."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.core.ids import new_id
from simkeep.voice import repository, speech
from simkeep.voice.flow import Call, Gather, Hangup, Prompt, Transfer, Turn
from simkeep.voice.models import VoiceCall, VoiceTurn


@dataclass(slots=True)
class LiveCall:
    """A call while an event of it is handled (a row of voice_calls): changed in place, written by record_turn."""

    id: uuid.UUID
    call_id: str
    transport: str
    caller: str | None
    called: str
    line_id: uuid.UUID | None
    language: str | None
    state: dict
    done: list
    turns: int
    outcome: str | None
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None


def start(session: Session, call: Call, *, line_id: uuid.UUID | None, language: str | None, state: dict,
          now: datetime) -> LiveCall | None:
    """Record a new call; None if the transport already started this one."""
    live = LiveCall(id=new_id(), call_id=call.call_id[:128], transport=call.transport, caller=call.caller,
                    called=call.called[:64], line_id=line_id, language=language, state=state, done=[], turns=0,
                    outcome=None, started_at=now, updated_at=now, ended_at=None)
    return live if repository.add_call(session, asdict(live)) else None


def existing(session: Session, call: Call) -> LiveCall | None:
    row = repository.get(session, call.transport, call.call_id[:128])
    return LiveCall(**row) if row is not None else None


def lock(session: Session, call_id: str) -> LiveCall | None:
    """The call an event belongs to, locked for the event's transaction."""
    row = repository.lock(session, call_id[:128])
    return LiveCall(**row) if row is not None else None


def language_known(session: Session, line_id: uuid.UUID, msisdn: str) -> bool:
    """Whether the line, calling from its own number, already chose the hotline's language (an earlier call)."""
    return repository.language_known(session, line_id, msisdn)


def record_turn(session: Session, call: LiveCall, *, step: str, input: str, turn: Turn | None,
                now: datetime) -> None:
    """One turn said: its prompts (what the menu said, never what was typed, for staff and tests), and the call
    as the turn leaves it."""
    call.turns += 1
    call.updated_at = now
    then = "none" if turn is None else _kind(turn.then)
    repository.add_turn(session, dict(
        id=new_id(), call_id=call.id, seq=call.turns, step=step, input=input[:16],
        prompts=[f"{p.language}/{p.name}" for p in turn.prompts] if turn else [], then=then, at=now))
    repository.save(session, call.id, dict(line_id=call.line_id, language=call.language, state=call.state,
                                           done=call.done, turns=call.turns, outcome=call.outcome,
                                           updated_at=call.updated_at, ended_at=call.ended_at))


def end(call: LiveCall, *, outcome: str, now: datetime) -> None:
    call.outcome = outcome
    call.ended_at = call.updated_at = now


def did(call: LiveCall, action: str, **details) -> None:
    """Note what the call did, for the line's history (a balance heard, a card redeemed, a link sent)."""
    call.done = [*call.done, {"action": action, **details}]


def for_line(session: Session, line_id: uuid.UUID, *, before: datetime | None = None,
             limit: int = 50) -> list[VoiceCall]:
    return repository.for_line(session, line_id, before=before, limit=limit)


@dataclass(frozen=True, slots=True)
class Logged:
    """A call as staff read it: the call, and each turn's input kind and what the menu said, in words."""

    call: VoiceCall
    turns: list[tuple[VoiceTurn, str]]


def call_log(session: Session, line_id: uuid.UUID, *, limit: int = 10) -> list[Logged]:
    """The line's latest calls with what the menu said in each turn (the back office's line page)."""
    return [Logged(call, [(turn, _words(turn.prompts)) for turn in repository.turns(session, call.id)])
            for call in repository.for_line(session, line_id, before=None, limit=limit)]


def _words(prompts: list[str]) -> str:
    return speech.words(tuple(Prompt(*prompt.split("/", 1)) for prompt in prompts))


def _kind(then: Gather | Transfer | Hangup) -> str:
    return {Gather: "gather", Transfer: "transfer", Hangup: "hangup"}[type(then)]
