"""The sender interface every channel adapter implements (file today; SMPP, SMTP and webhooks next)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: uuid.UUID  # stable across retries: receivers deduplicate on it
    topic: str
    channel: str
    recipient: str
    language: str
    text: str
    payload: dict
    attempt: int


class TemporaryFailure(Exception):
    """Worth retrying later (network down, throttled, SMSC busy)."""


class PermanentFailure(Exception):
    """Retrying cannot help (unknown subscriber, rejected content)."""


class Sender(Protocol):
    def send(self, message: Outgoing) -> str | None:
        """Deliver (optionally saying what the receiver answered) or raise TemporaryFailure / PermanentFailure."""
