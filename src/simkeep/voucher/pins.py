"""PINs: made by a CSPRNG, 14 random digits and a Luhn check digit, kept only as HMAC-SHA256 under the pepper.

1,000,000 cards out of 10^14 possible PINs: a guess hits one with probability 10^-8, and a number may make five
wrong guesses a day. The check digit catches a typo before any lookup (and costs the subscriber no try)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from simkeep.config import Settings
from simkeep.core.errors import VouchersNotConfigured

BODY_DIGITS = 14
PIN_DIGITS = BODY_DIGITS + 1
_SPACE = 10 ** BODY_DIGITS
_SEPARATORS = str.maketrans("", "", " -.\u00a0\u202f\t")
# Luhn: from the right, every second digit of the body (starting with its last) is doubled.
_DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]
# The Luhn sum of 4 digits that start at an even place from the right (0, 4, 8, 12 in a 14-digit body): a body's
# sum is four lookups, so a million PINs take no Python loop over digits.
_LUHN4 = [_DOUBLED[n % 10] + n // 10 % 10 + _DOUBLED[n // 100 % 10] + n // 1000 for n in range(10_000)]
# 64-bit draws at or above this are drawn again, so `draw % 10^14` is uniform (1 draw in 250 million is).
_UNIFORM_BELOW = (1 << 64) // _SPACE * _SPACE


@dataclass(frozen=True, slots=True)
class Keys:
    pepper: bytes  # keys the PIN hashes
    seal: str  # hex AES key for e-PINs kept for a replay

    def hash(self, pin: str) -> bytes:
        return hmac.digest(self.pepper, pin.encode(), "sha256")

    def hashes(self, pins: list[str]) -> list[bytes]:
        """hash() of each, without a Python call per PIN around the C one (a million PINs for one batch)."""
        digest, pepper = hmac.digest, self.pepper
        return [digest(pepper, pin.encode(), "sha256") for pin in pins]


def keys(settings: Settings) -> Keys:
    if not settings.voucher_pepper or not settings.voucher_seal_key:
        raise VouchersNotConfigured()
    seal = hmac.new(settings.voucher_seal_key.encode(), b"simkeep/voucher-seal", "sha256").hexdigest()
    return Keys(pepper=settings.voucher_pepper.encode(), seal=seal)


def check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = ord(ch) - 48
        total += _DOUBLED[d] if i % 2 == 0 else d
    return chr(48 + (10 - total % 10) % 10)


def new_pin() -> str:
    return new_pins(1)[0]


def new_pins(count: int) -> list[str]:
    """`count` PINs from the CSPRNG (os.urandom, read in one call per round): 14 uniform digits and the check digit."""
    luhn = _LUHN4
    made: list[str] = []
    while len(made) < count:
        for draw in memoryview(secrets.token_bytes(8 * (count - len(made)))).cast("Q"):
            if draw < _UNIFORM_BELOW:
                body = draw % _SPACE
                total = (luhn[body % 10_000] + luhn[body // 10_000 % 10_000] + luhn[body // 10**8 % 10_000]
                         + luhn[body // 10**12])
                made.append(f"{body:014d}{-total % 10}")
    return made


def normalize(text: str) -> str | None:
    """The PIN's digits, or None if it cannot be one (wrong length, letters, a wrong check digit)."""
    digits = text.translate(_SEPARATORS)
    if len(digits) != PIN_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits if check_digit(digits[:-1]) == digits[-1] else None


def grouped(pin: str) -> str:
    """As printed on a card: 1234 5678 9012 345."""
    if len(pin) == PIN_DIGITS:  # the fast path: a million of them for one batch's file
        return f"{pin[:4]} {pin[4:8]} {pin[8:12]} {pin[12:]}"
    return " ".join(pin[i:i + 4] for i in range(0, len(pin), 4))


def redeem_url(base_url: str, pin: str) -> str:
    """What a card's QR code opens: the portal's recharge-card form with the PIN filled in. The PIN travels in the
    fragment, which browsers never send to a server, so it stays out of access logs and proxies."""
    return f"{base_url.rstrip('/')}/renew/card#pin={pin}"
