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
    request_id: str | None = None  # the web request that wrote it: its delivery is logged under the same id


@dataclass(frozen=True, slots=True)
class Sent:
    """What a sender learnt while delivering: the receiver's id for the message (an SMSC message id, the
    Message-ID of an e-mail) and a line for the delivery log."""

    external_id: str | None = None
    detail: str | None = None


CONTENT_ID = "sha256:"  # a message id made from the message's content, for an SMSC that names none


@dataclass(frozen=True, slots=True)
class UssdIn:
    """A USSD PDU from a handset, for the menu above notification (simkeep.ussd) to read: `op` is its
    ussd_service_op, `session_info` its its_session_info as received (session number, sequence number, end bit)."""

    sender: str
    text: str
    op: int | None
    session_info: int | None


class TemporaryFailure(Exception):
    """Worth retrying later (network down, throttled, SMSC busy)."""


class PermanentFailure(Exception):
    """Retrying cannot help (unknown subscriber, rejected content)."""


class Sender(Protocol):
    def send(self, message: Outgoing) -> Sent | None:
        """Deliver, or raise TemporaryFailure / PermanentFailure."""


class Listener(Protocol):
    """What a sender that also receives (SMPP) reports back: delivery receipts, inbound SMS and USSD."""

    def receipt(self, external_id: str, status: str) -> None: ...

    def inbound(self, sender: str, text: str, message_id: str | None = None) -> None:
        """`message_id`: what identifies the message at the SMSC, so that a redelivery acts once (see
        notification.service.record_inbound); a content digest starts with CONTENT_ID."""

    def ussd(self, message: UssdIn) -> None: ...
