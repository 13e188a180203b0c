"""A call's dialogue driven over HTTP, one request per turn, so that a replayed or retried request acts once.

The IVR platform (JSON webhooks or VoiceXML) numbers the turns: the new call gets turn 1, and what the caller did in
turn n is answered with turn n + 1. Before asking the dialogue, a request claims its turn with an INSERT that a
UNIQUE (call_id, turn) key lets only one request win; the winner asks the dialogue and stores the answer; any other
request for that turn (a replay, a retry after a timeout, a twin racing it) gets the stored answer, unless it asked
something else (409). The claim is committed before the dialogue runs, which opens its own transactions.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from simkeep.core import clock
from simkeep.core.errors import Conflict, NotFound
from simkeep.core.ids import new_id
from simkeep.db import Database, insert_or_ignore
from simkeep.voice import flow
from simkeep.voice.http_models import VoiceHttpTurn

ANSWER_WAIT_SECONDS = 10.0  # a twin waits this long for the winner's answer before giving up with 409
_POLL_SECONDS = 0.05
KEPT = timedelta(days=1)  # far past any call and any signature's or token's life: then only a record of nothing
PURGE_BATCH = 1000


class CallNotFound(NotFound):
    code, message = "call_not_found", "No call with this id was started here."


class TurnMismatch(Conflict):
    code, message = "turn_mismatch", "This turn was already answered for a different request, or is not the current one."


class TurnInProgress(Conflict):
    code, message = "turn_in_progress", "This turn is still being answered; send the same request again."


def digest(request: dict, key: str) -> str:
    """What identifies a request's content (the call and turn are the row's key). Keyed, because the digits may be a
    card PIN or a sign-in code: only their HMAC is kept."""
    return hmac.new(key.encode(), json.dumps(request, sort_keys=True, separators=(",", ":")).encode(),
                    "sha256").hexdigest()


def start(db: Database, dialogue: flow.Dialogue, call: flow.Call, request_digest: str) -> tuple[int, flow.Turn]:
    """Turn 1 of a new call; a repeated start answers the first one's turn."""
    claimed = db.write(lambda session: _claim(session, call.call_id, 1, request_digest))
    if not claimed:
        return 1, _answer_of(db, call.call_id, 1, request_digest)
    return 1, _answered(db, call.call_id, 1, lambda: dialogue.start(call))


def follow(db: Database, dialogue: flow.Dialogue, call_id: str, turn: int, event: flow.Event,
           request_digest: str) -> tuple[int, flow.Turn]:
    """The turn that answers `event`, which happened during `turn`. A call the dialogue has ended is answered with
    a silent hang-up."""

    def claim(session: Session) -> bool:
        last = session.scalar(select(func.max(VoiceHttpTurn.turn)).where(VoiceHttpTurn.call_id == call_id))
        if last is None:
            raise CallNotFound()
        if turn > last:
            raise TurnMismatch(f"Turn {turn} was never given; the call is at turn {last}.")
        return turn == last and _claim(session, call_id, turn + 1, request_digest)

    if not db.write(claim):
        return turn + 1, _answer_of(db, call_id, turn + 1, request_digest)
    return turn + 1, _answered(db, call_id, turn + 1,
                               lambda: dialogue.handle(call_id, event) or flow.Turn((), flow.Hangup()))


def _claim(session: Session, call_id: str, turn: int, request_digest: str) -> bool:
    row = {"id": new_id(), "call_id": call_id, "turn": turn, "request_digest": request_digest, "answer": None,
           "created_at": clock.now(), "answered_at": None}
    table = VoiceHttpTurn.__table__
    return session.connection().execute(insert_or_ignore(session, table).returning(table.c.id), row).first() is not None


def _answered(db: Database, call_id: str, turn: int, ask: Callable[[], flow.Turn]) -> flow.Turn:
    """Ask the dialogue and keep its answer; if asking fails, give the turn back so that a retry may ask again."""
    key = (VoiceHttpTurn.call_id == call_id) & (VoiceHttpTurn.turn == turn)
    try:
        answer = ask()
    except BaseException:
        db.write(lambda session: session.execute(delete(VoiceHttpTurn).where(key)))
        raise
    db.write(lambda session: session.execute(
        update(VoiceHttpTurn).where(key).values(answer=to_dict(answer), answered_at=clock.now())))
    return answer


def _answer_of(db: Database, call_id: str, turn: int, request_digest: str) -> flow.Turn:
    """The stored answer to a turn asked again; the winner of a race may still be computing it."""
    deadline = time.monotonic() + ANSWER_WAIT_SECONDS
    while True:
        row = db.read(lambda session: session.execute(
            select(VoiceHttpTurn.request_digest, VoiceHttpTurn.answer).where(
                VoiceHttpTurn.call_id == call_id, VoiceHttpTurn.turn == turn)).one_or_none())
        if row is None:  # the winner failed and gave the turn back
            raise TurnInProgress()
        if row.request_digest != request_digest:
            raise TurnMismatch()
        if row.answer is not None:
            return from_dict(row.answer)
        if time.monotonic() > deadline:
            raise TurnInProgress()
        time.sleep(_POLL_SECONDS)


def purge(db: Database, *, now: datetime, batch: int = PURGE_BATCH) -> int:
    """Forget the turns of calls answered more than a day ago (the call's own record, voice_calls, stays), `batch`
    rows per short transaction. Returns how many were deleted."""
    total = 0
    while True:
        def one_batch(session: Session) -> int:
            ids = list(session.scalars(select(VoiceHttpTurn.id).where(VoiceHttpTurn.created_at < now - KEPT)
                                       .limit(batch)))
            if ids:
                session.execute(delete(VoiceHttpTurn).where(VoiceHttpTurn.id.in_(ids))
                                .execution_options(synchronize_session=False))
            return len(ids)

        deleted = db.write(one_batch)
        total += deleted
        if deleted < batch:
            return total


def to_dict(turn: flow.Turn) -> dict:
    then = turn.then
    if isinstance(then, flow.Gather):
        after: dict = {"gather": {"max_digits": then.max_digits, "finish_on": then.finish_on, "timeout": then.timeout}}
    elif isinstance(then, flow.Transfer):
        after = {"transfer": {"uri": then.uri}}
    else:
        after = {"hangup": {}}
    return {"prompts": [[p.language, p.name] for p in turn.prompts], "then": after}


def from_dict(stored: dict) -> flow.Turn:
    prompts = tuple(flow.Prompt(language, name) for language, name in stored["prompts"])
    then = stored["then"]
    if "gather" in then:
        return flow.Turn(prompts, flow.Gather(**then["gather"]))
    if "transfer" in then:
        return flow.Turn(prompts, flow.Transfer(then["transfer"]["uri"]))
    return flow.Turn(prompts, flow.Hangup())
