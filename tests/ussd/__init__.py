"""USSD sessions through the real SMPP link (SmppSender) and the test SMSC (tests/notification/smsc.py).

`Handset` plays the subscriber behind a USSD gateway: it dials and types, the SMSC delivers each PDU to the
SmppSender, whose listener runs the menu in one transaction (deliver_sm_resp once committed); the outbox is then
delivered and the handset reads the submit_sm the SMSC received.
"""

from __future__ import annotations

from simkeep.db import Database
from simkeep.notification.tasks import deliver_due
from tests.notification.smsc import Received, Smsc

OPEN, CONFIRM = 1, 18  # ussd_service_op of a dialled code, and of an answer to our screen
REQUEST, RESPONSE = 2, 17  # ours: a screen that continues, the last one
MSISDN = "+33612345678"


def session_info(session: int, sequence: int, end: bool = False) -> int:
    return session << 8 | sequence << 1 | int(end)


class Handset:
    """One phone's USSD dialogues. Its PDUs carry sequence numbers 0, 2, 4 ... (our answers 1, 3, 5 ...)."""

    def __init__(self, smsc: Smsc, db: Database, sender, msisdn: str = MSISDN, session: int = 7) -> None:
        self.smsc, self.db, self.sender, self.msisdn, self.session = smsc, db, sender, msisdn, session
        self.sequence = 0

    def dial(self, code: str = "*100#", *, session: int | None = None) -> Received | None:
        self.session, self.sequence = (self.session if session is None else session), 0
        return self._send(code, OPEN)

    def type(self, text: str) -> Received | None:
        self.sequence += 2
        return self._send(text, CONFIRM)

    def again(self, text: str, op: int = CONFIRM) -> Received | None:
        """The last PDU delivered again (the SMSC did not get our deliver_sm_resp)."""
        return self._send(text, op)

    def hang_up(self) -> Received | None:
        self.sequence += 2
        return self._send("", CONFIRM, end=True)

    def _send(self, text: str, op: int, *, end: bool = False) -> Received | None:
        before = len(self.smsc.ussd_answers)
        status = self.smsc.deliver_ussd(self.msisdn.lstrip("+"), text, op, session_info(self.session, self.sequence,
                                                                                        end))
        assert status == 0
        deliver_due(self.db, self.sender)
        answers = self.smsc.ussd_answers
        return answers[-1] if len(answers) > before else None
