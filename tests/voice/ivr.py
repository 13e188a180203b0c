"""Helpers shared by the voice tests: a scripted dialogue, and a platform that signs its webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from simkeep.config import Settings
from simkeep.core.signing import sign
from simkeep.db import Database
from simkeep.main import create_app
from simkeep.voice import api as voice_api
from simkeep.voice import flow

PLATFORM_SECRET = "whsec_voice_0123456789abcdef0123456789abcdef"
VXML_KEY = "vxml-entry-0123456789abcdef0123456789abcdef"
FR = "fr"


def p(*names: str, language: str = FR) -> tuple[flow.Prompt, ...]:
    return tuple(flow.Prompt(language, name) for name in names)


class Scripted:
    """A small dialogue standing in for the menu: turn 1 gathers one key; "1" says an amount and gathers a PIN;
    "0" transfers; a PIN ends the call; anything else hangs up. It records what it was asked, and `hold` makes
    handle() wait until released, so a test can race a twin against it."""

    def __init__(self) -> None:
        self.started: list[flow.Call] = []
        self.events: list[tuple[str, flow.Event]] = []
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def start(self, call: flow.Call) -> flow.Turn:
        self.started.append(call)
        return flow.Turn(p("n1", "n2", "n3"), flow.Gather(max_digits=1, finish_on="#", timeout=6.0))

    def handle(self, call_id: str, event: flow.Event) -> flow.Turn | None:
        self.events.append((call_id, event))
        self.entered.set()
        if self.hold is not None:
            self.hold.wait(timeout=30)
        if isinstance(event, flow.HungUp):
            return None
        if event == flow.Digits("1"):
            return flow.Turn(p("n12", "EUR.major_many"), flow.Gather(max_digits=15, finish_on="#", timeout=10.0))
        if event == flow.Digits("0"):
            return flow.Turn(p("n0"), flow.Transfer("sip:agent@127.0.0.1"))
        return flow.Turn(p("n99"), flow.Hangup())


def voice_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"voice_platform_secret": PLATFORM_SECRET, "voice_vxml_key": VXML_KEY,
                                       "public_url": "https://simkeep.example"})


@contextmanager
def voice_client(settings: Settings, db: Database, dialogue: flow.Dialogue | None = None) -> Iterator[TestClient]:
    """The app with the voice modes configured; `dialogue` replaces the hotline's menu when given."""
    app = create_app(voice_settings(settings), db)
    if dialogue is not None:
        app.dependency_overrides[voice_api.dialogue] = lambda: dialogue
    with TestClient(app, base_url="https://simkeep.example") as client:
        yield client


def signed_post(client: TestClient, path: str, body: dict, *, secret: str = PLATFORM_SECRET,
                at: int | None = None, signature: str | None = None):
    raw = json.dumps(body).encode()
    header = signature or sign(secret, raw, int(time.time()) if at is None else at)
    return client.post(path, content=raw, headers={"content-type": "application/json", "Simkeep-Signature": header})


def new_call(client: TestClient, call_id: str = "CA1", caller: str | None = "+33612345678", **kw):
    return signed_post(client, "/api/v1/voice/calls", {"call_id": call_id, "caller": caller, "called": "+33170000000"},
                       **kw)


def event(client: TestClient, call_id: str, turn: int, kind: str = "digits", digits: str = "", **kw):
    return signed_post(client, f"/api/v1/voice/calls/{call_id}/events",
                       {"turn": turn, "event": kind, "digits": digits}, **kw)
