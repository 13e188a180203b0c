"""Sign-in codes by SMS: 6 digits, valid 5 minutes, 5 wrong attempts per code, and a budget of wrong codes per
number that spans codes (10 per rolling 24 hours by default).

Nothing here tells whether a number is a customer: a code is "sent" for any valid mobile number, but only a
number with a live line gets an SMS, and verification and budgets work the same way for both.

Guessing. Without a budget across codes, asking for a new code after each lockout gave about 60 guesses per number
per hour. Now every wrong code, whichever code it was for, is a row of `otp_failures`; a number with `wrong_guesses`
of them in the last `window` gets no new code and has no code checked until the oldest one leaves the window. The
count is read after the number's row in `otp_numbers` is written, in the transaction that records the failure:
two guesses racing for the same number run one after the other, so both count and neither gets checked once the
budget is spent (no check-then-act). A guess with no code to check (expired, used, never asked for) costs nothing,
and neither does asking for a code.

Requests, and why a stranger cannot stop the holder from getting a code. Each code goes to the holder's phone,
never to whoever asked, so the only harm a stranger's request can do is to use up a per-number request limit and
leave the holder with none. Hence:
- a request while the number's last code is still usable (not expired, not used, not locked) creates nothing and
  sends nothing: it is told to type the code already sent, costs nothing and counts against no limit. A stranger
  can therefore make at most one new code per code lifetime (5 minutes): 12 an hour;
- a new code within `RESEND_AFTER` of the last one (after a quick lockout or use) is "too soon", which costs
  nothing either;
- the per-number limit on new codes (`codes_per_number` per `codes_window`, 20 an hour by default) is above the 12
  a stranger can make, plus the few a lockout allows (each lockout costs 5 wrong guesses of the budget), so a
  holder asking for a code always finds one sent to their phone or gets a new one;
- what carries the abuse is the per-address limit on requests and checks (web/ratelimit.py: an IPv6 /64 counts as
  one address), and the wrong-guess budget bounds what any number of addresses can guess.
A stranger can still spend a number's wrong-guess budget (that is what a budget is); renewing does not need a
code (portal/wizard.py), and the page lists the ways that remain.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import parse
from sqlalchemy.orm import Session

from simkeep.config import Settings
from simkeep.core.errors import SimkeepError
from simkeep.core.ids import new_id
from simkeep.line import service as lines
from simkeep.notification import outbox
from simkeep.otp import repository

CODE_TTL = timedelta(minutes=5)
RESEND_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5  # wrong codes per code; the number's budget spans codes


OK, WRONG, LOCKED, EXPIRED, SPENT = "ok", "wrong", "locked", "expired", "spent"


@dataclass(frozen=True, slots=True)
class Policy:
    wrong_guesses: int = 10
    window: timedelta = timedelta(hours=24)
    codes_per_number: int = 20
    codes_window: timedelta = timedelta(hours=1)


DEFAULT_POLICY = Policy()


def policy_for(settings: Settings) -> Policy:
    """The configured policy: the portal's sign-in and the hotline's code check are the same check."""
    per_number = parse(settings.code_requests_per_number)
    return Policy(wrong_guesses=settings.code_wrong_guesses, window=timedelta(hours=settings.code_wrong_guess_hours),
                  codes_per_number=per_number.amount, codes_window=timedelta(seconds=per_number.get_expiry()))


class ResendTooSoon(SimkeepError):
    code, status, message = "code_resend_too_soon", 429, "Please wait a minute before asking for another code."


class BudgetSpent(SimkeepError):
    code, status, message = "code_budget_spent", 429, "Too many wrong codes for this number; try again later."

    def __init__(self, resets_at: datetime) -> None:
        super().__init__(resets_at=resets_at.isoformat())
        self.resets_at = resets_at


class TooManyCodes(SimkeepError):
    code, status, message = "code_requests_exceeded", 429, "Too many codes asked for this number; try again later."

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(retry_at=retry_at.isoformat())
        self.retry_at = retry_at


@dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    resend_at: datetime  # when a new code may be asked for
    expires_at: datetime
    new: bool  # False: the code sent earlier is still the one to type; nothing was sent


@dataclass(frozen=True, slots=True)
class Budget:
    remaining: int  # wrong codes this number may still type
    resets_at: datetime | None  # when it is spent: when the oldest wrong code stops counting


@dataclass(frozen=True, slots=True)
class Tries:
    left: int  # wrong codes the number's current code may still take: its own, within the number's budget
    closed: str | None  # why no code can be typed now (LOCKED, EXPIRED or SPENT); None while one can


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str  # OK, WRONG, LOCKED, EXPIRED or SPENT
    budget: Budget


def code_hash(secret: str, challenge_id, code: str) -> str:
    return hmac.new(secret.encode(), f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def budget(session: Session, *, msisdn: str, now: datetime, policy: Policy = DEFAULT_POLICY) -> Budget:
    failures = repository.failures_since(session, msisdn, now - policy.window)
    remaining = max(policy.wrong_guesses - len(failures), 0)
    resets_at = failures[len(failures) - policy.wrong_guesses] + policy.window if remaining == 0 else None
    return Budget(remaining, resets_at)


def tries(session: Session, *, msisdn: str, now: datetime, policy: Policy = DEFAULT_POLICY) -> Tries:
    """What the code page tells: how many wrong codes the code just sent may still take (MAX_ATTEMPTS of its own,
    no more than the number's budget), or why none can be typed (a code never asked for reads as expired)."""
    left = budget(session, msisdn=msisdn, now=now, policy=policy).remaining
    if left == 0:
        return Tries(0, SPENT)
    challenge = repository.latest(session, msisdn)
    if challenge is None or challenge.consumed_at is not None or now >= challenge.expires_at:
        return Tries(0, EXPIRED)
    if challenge.attempts >= MAX_ATTEMPTS:
        return Tries(0, LOCKED)
    return Tries(min(MAX_ATTEMPTS - challenge.attempts, left), None)


def request_code(session: Session, *, msisdn: str, secret: str, now: datetime,
                 policy: Policy = DEFAULT_POLICY) -> Challenge:
    """A new code, or the one still usable. The code goes out by SMS only if the number has a live line."""
    repository.lock_number(session, msisdn, now=now)
    left = budget(session, msisdn=msisdn, now=now, policy=policy)
    if left.remaining == 0 and left.resets_at is not None:
        raise BudgetSpent(left.resets_at)  # no code could be checked: send none
    latest = repository.latest(session, msisdn)
    if latest is not None and _usable(latest, now):
        return Challenge(str(latest.id), latest.expires_at, latest.expires_at, new=False)
    if latest is not None and now < latest.created_at + RESEND_AFTER:
        raise ResendTooSoon(resend_at=(latest.created_at + RESEND_AFTER).isoformat())
    recent = repository.challenges_since(session, msisdn, now - policy.codes_window)
    if len(recent) >= policy.codes_per_number:
        raise TooManyCodes(recent[len(recent) - policy.codes_per_number] + policy.codes_window)
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
    return Challenge(str(challenge_id), now + RESEND_AFTER, now + CODE_TTL, new=True)


def verify_code(session: Session, *, msisdn: str, code: str, secrets: list[str], now: datetime,
                policy: Policy = DEFAULT_POLICY) -> Verdict:
    """Accept the latest unexpired code once. `secrets` are the current key and those still accepted during a
    rotation (Settings.verifying_keys("otp")). Answers rather than raises, so the caller commits the counted
    failure: a rolled-back counter would make brute force free."""
    repository.lock_number(session, msisdn, now=now)
    left = budget(session, msisdn=msisdn, now=now, policy=policy)
    if left.remaining == 0:
        return Verdict(SPENT, left)  # not even compared: a spent budget must not answer "right" to anyone
    challenge = repository.latest(session, msisdn, for_update=True)
    if challenge is None or challenge.consumed_at is not None or now >= challenge.expires_at:
        return Verdict(EXPIRED, left)
    if challenge.attempts >= MAX_ATTEMPTS:
        return Verdict(LOCKED, left)
    typed = code.strip()
    if any(hmac.compare_digest(code_hash(key, challenge.id, typed), challenge.code_hash) for key in secrets):
        repository.consume(session, challenge.id, now=now)
        return Verdict(OK, left)
    repository.count_failure(session, challenge.id, msisdn, now=now, forget_before=now - policy.window)
    after = budget(session, msisdn=msisdn, now=now, policy=policy)
    if after.remaining == 0:
        return Verdict(SPENT, after)
    return Verdict(LOCKED if challenge.attempts + 1 >= MAX_ATTEMPTS else WRONG, after)


def _usable(challenge, now: datetime) -> bool:
    return challenge.consumed_at is None and now < challenge.expires_at and challenge.attempts < MAX_ATTEMPTS
