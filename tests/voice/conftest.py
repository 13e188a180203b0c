"""The telephony peers of the end-to-end calls: Kamailio as the operator's registrar and proxy, started once per
test session, and the hotline (the SIP user agent with the real voice menu on the test's database) registered at it
per test. Callers are SIPp runs (tests/voice/peers.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from itertools import count

import pytest

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.voice import flow, prompts
from simkeep.voice.menu import Menu
from simkeep.voice.sip.agent import Options, UserAgent
from tests.conftest import T0
from tests.processes import wait_until
from tests.voice.peers import Kamailio

NOW = T0 + timedelta(hours=1)  # the menu's clock: the lines and cards of a test are made at T0
_numbers = count(1)


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    with Kamailio(tmp_path_factory.mktemp("kamailio")) as proxy:
        yield proxy


class Hotline:
    """The user agent answering for `number` with the voice menu, its loop in a thread, REGISTERed at the proxy.
    `played(call)` is what the transport played, turn by turn (its observer's `voice.played` events)."""

    def __init__(self, dialogue: flow.Dialogue, registrar: str, number: str) -> None:
        self.number = number
        self.events: list[tuple[str, dict]] = []
        self.missing: list[flow.Prompt] = []  # prompts the menu named that have no recording
        self.agent = UserAgent(dialogue, self.audio, Options(host="127.0.0.1", port=0, registrar=f"sip:{registrar}",
                                                            user=number, rtp_ports=(40000, 49999)),
                               observer=lambda event, fields: self.events.append((event, fields)))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Hotline:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.agent.start(), self.loop).result(10)
        registration = self.agent.registration
        assert registration is not None
        wait_until(registration.registered.is_set, timeout=10, what=f"{self.number} registered")
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.agent.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.agent.executor.shutdown(wait=True)

    def audio(self, prompt: flow.Prompt) -> bytes:
        """The recorded prompt (voice/prompts/), as `simkeep voice` plays it; a missing one is noted."""
        try:
            return prompts.audio(prompt)
        except prompts.MissingPrompt:
            self.missing.append(prompt)
            raise

    def calls(self) -> list[str]:
        return [fields["call_id"] for event, fields in self.events if event == "voice.call_started"]

    def played(self, call_id: str) -> list[list[str]]:
        return [list(fields["prompts"]) for event, fields in self.events
                if event == "voice.played" and fields["call_id"] == call_id]

    def ended(self) -> bool:
        return any(event == "voice.call_ended" for event, _ in self.events)


def hotline_for(kamailio: Kamailio, db: Database, settings: Settings) -> Hotline:
    """A number of its own per test, so a binding a test left at the registrar never takes another test's call."""
    return Hotline(Menu(db, settings, now=lambda: NOW), kamailio.address, f"hotline{next(_numbers)}")


@pytest.fixture
def hotline(kamailio: Kamailio, db: Database, settings: Settings) -> Iterator[Hotline]:
    with hotline_for(kamailio, db, settings) as answering:
        yield answering
    assert answering.missing == [], "prompts the menu said have no recording"
