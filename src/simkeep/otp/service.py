"""Sign-in codes by SMS: 6 digits, valid 5 minutes, 5 wrong attempts, a new one at most every 60 seconds.

Nothing here tells whether a number is a customer: a code is "sent" for any valid mobile number, but only a
number with a live line gets an SMS, and verification fails the same way for both.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.core.errors import SimkeepError
from simkeep.core.ids import new_id
from simkeep.line import service as lines
from simkeep.notification import outbox
from simkeep.otp import repository

CODE_TTL = timedelta(minutes=5)
RESEND_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5


OK, WRONG, LOCKED, EXPIRED = "ok", "wrong", "locked", "expired"


class ResendTooSoon(SimkeepError):
    code, status, message = "code_resend_too_soon", 429, "Please wait a minute before asking for another code."


@dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    resend_at: datetime


def code_hash(secret: str, challenge_id, code: str) -> str:
    return hmac.new(secret.encode(), f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def request_code(session: Session, *, msisdn: str, secret: str, now: datetime) -> Challenge:
    """Create a challenge; the code goes out by SMS only if the number has a live line."""
    latest = repository.latest(session, msisdn)
    if latest is not None and now < latest.created_at + RESEND_AFTER:
        raise ResendTooSoon(resend_at=(latest.created_at + RESEND_AFTER).isoformat())
    challenge_id = new_id()
    code = f"{secrets.randbelow(1_000_000):06d}"
    repository.add(session, id=challenge_id, msisdn=msisdn, code_hash=code_hash(secret, challenge_id, code),
                   attempts=0, created_at=now, expires_at=now + CODE_TTL, consumed_at=None)
    line = lines.find_live_line(session, msisdn)
    if line is not None:
        outbox.enqueue(session, [outbox.Message(
            dedup_key=f"otp:{challenge_id}", topic="otp.code", channel=outbox.SMS, recipient=msisdn,
            language=line.language, line_id=line.id, payload={"code": code, "minutes": 5},
        )], now=now)
    return Challenge(str(challenge_id), now + RESEND_AFTER)


def verify_code(session: Session, *, msisdn: str, code: str, secret: str, now: datetime) -> str:
    """Accept the latest unexpired code once. Returns "ok", "wrong", "locked" or "expired" rather than raising,
    so the caller commits the counted failure: a rolled-back attempt counter would make brute force free."""
    challenge = repository.latest(session, msisdn, for_update=True)
    if challenge is None or challenge.consumed_at is not None or now >= challenge.expires_at:
        return EXPIRED
    if challenge.attempts >= MAX_ATTEMPTS:
        return LOCKED
    if not hmac.compare_digest(code_hash(secret, challenge.id, code.strip()), challenge.code_hash):
        repository.count_failure(session, challenge.id)
        return LOCKED if challenge.attempts + 1 >= MAX_ATTEMPTS else WRONG
    repository.consume(session, challenge.id, now=now)
    return OK
