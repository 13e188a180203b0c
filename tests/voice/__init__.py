"""The voice menu driven through its contract (flow.py): calls started and events handled directly, no SIP."""

from __future__ import annotations

from sqlalchemy import select

from simkeep.db import Database
from simkeep.voice.flow import Turn
from simkeep.voice.models import VoiceCall, VoiceTurn
from simkeep.voice.speech import words

MSISDN = "+33612345678"
HOTLINE = "+33170000000"
MENU = ["menu_balance", "menu_card", "menu_link", "menu_repeat", "menu_agent"]
OWN_MENU = [*MENU, "menu_language"]


def names(turn: Turn | None) -> list[str]:
    """The prompt names a turn plays, in order."""
    assert turn is not None
    return [p.name for p in turn.prompts]


def said(turn: Turn | None, *, until: str | None = None) -> str:
    """What the turn says, up to the prompt named `until` (the menu that follows an answer)."""
    assert turn is not None
    prompts = turn.prompts
    if until is not None:
        prompts = prompts[:[p.name for p in prompts].index(until)]
    return words(prompts)


def call_row(db: Database, call_id: str = "call-1") -> VoiceCall:
    with db.transaction(write=False) as session:
        return session.scalars(select(VoiceCall).where(VoiceCall.call_id == call_id)).one()


def turn_rows(db: Database, call_id: str = "call-1") -> list[VoiceTurn]:
    with db.transaction(write=False) as session:
        row = session.scalars(select(VoiceCall).where(VoiceCall.call_id == call_id)).one()
        return list(session.scalars(select(VoiceTurn).where(VoiceTurn.call_id == row.id).order_by(VoiceTurn.seq)))
