"""What a call's dialogue asks of the transport that carries it: SIP and RTP (voice/sip/), or an operator's IVR
platform over HTTP (voice/api.py).

A turn is what to play, then what to wait for. The transport plays the prompts in order (a key pressed while they
play stops them and starts the input: barge-in), then gathers keys as `Gather` says and reports what came back as
one event: the digits, a silence, or the caller hanging up. The dialogue answers each event with the next turn, and
keeps the call's state in the database between events, so a turn can be computed by any process.

Prompts are recorded pieces (voice/prompts/<language>/<name>.wav): numbers, dates and amounts are assembled from
small pieces, so the espeak-ng recordings can be replaced by a person's voice file by file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SIP, HTTP = "sip", "http"  # the transports


@dataclass(frozen=True, slots=True)
class Prompt:
    """One recorded piece, in one language (zh_CN, fr, en)."""

    language: str
    name: str


@dataclass(frozen=True, slots=True)
class Gather:
    """Wait for keys: at most `max_digits`, or until `finish_on` is pressed (not part of the digits), or until
    `timeout` seconds pass without a key (before the first one and between two)."""

    max_digits: int = 1
    finish_on: str = "#"
    timeout: float = 6.0


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand the call to a person: a blind transfer to this SIP URI once the prompts have played."""

    uri: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call once the prompts have played."""


@dataclass(frozen=True, slots=True)
class Turn:
    prompts: tuple[Prompt, ...]
    then: Gather | Transfer | Hangup


@dataclass(frozen=True, slots=True)
class Call:
    """A call as it arrives. `caller`: the calling number in E.164 (P-Asserted-Identity, else From), None when
    withheld or not a number."""

    call_id: str
    caller: str | None
    called: str
    transport: str


@dataclass(frozen=True, slots=True)
class Digits:
    """Keys gathered: `digits` without the finishing key ("" when only the finishing key was pressed)."""

    digits: str


@dataclass(frozen=True, slots=True)
class Silence:
    """The gathering timed out; `digits` holds what was typed before the silence."""

    digits: str = ""


@dataclass(frozen=True, slots=True)
class HungUp:
    """The caller hung up (or the call was lost) during this turn."""


Event = Digits | Silence | HungUp


class Dialogue(Protocol):
    """The voice menu as the transports see it. Both methods are synchronous (they use the database): an asyncio
    transport runs them in a thread."""

    def start(self, call: Call) -> Turn:
        """The first turn of a new call (the call is recorded)."""
        ...

    def handle(self, call_id: str, event: Event) -> Turn | None:
        """The next turn after `event`; None once the call is over (after HungUp, or an event for an ended or
        unknown call)."""
        ...
