"""Renewal links that prove they came from us: `/recharge?msisdn=+336…&link=<until>.<mac>`.

A reminder goes to the line's own phone; its link names the number and carries an HMAC (the "renewal_link" key)
of that number and an expiry, the line's number-loss date when the reminder was written. Within that time the
number cannot belong to anyone else (a lost number is held in quarantine before it is given again), so a valid
link names the line itself: the wizard may open that line's operator with the number filled in, and show the
validity dates the reminder already told. A bare `?msisdn=` (an old reminder, or typed by anyone) proves nothing
and only prefills the number.

The token is short because it travels in an SMS: the expiry in base 36 seconds and 96 bits of HMAC-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

PURPOSE = "renewal_link"  # Settings.key(PURPOSE)
MAC_BYTES = 12


@dataclass(frozen=True, slots=True)
class RenewalLinks:
    """Where reminders send people: the portal's address and the key that signs links (None: plain links that
    only prefill the number, as before signed links existed)."""

    base: str
    key: str | None = None

    def url(self, msisdn: str, *, until: datetime) -> str:
        url = f"{self.base}/recharge?msisdn={quote(msisdn, safe='')}"
        return url if self.key is None else f"{url}&link={token(self.key, msisdn, until)}"


PLAIN = RenewalLinks("")  # relative links that only prefill the number (tests, previews)


def token(key: str, msisdn: str, until: datetime) -> str:
    expiry = _base36(int(until.timestamp()))
    return f"{expiry}.{_mac(key, msisdn, expiry)}"


def valid_until(keys: Sequence[str], msisdn: str, link: str, *, now: datetime) -> datetime | None:
    """When the link stops working, if it is genuine for this number and still valid; else None. `keys`: the
    current key and those still accepted during a rotation (Settings.verifying_keys)."""
    expiry, _, mac = link.partition(".")
    try:
        until = datetime.fromtimestamp(int(expiry, 36), UTC)
    except (ValueError, OverflowError, OSError):
        return None
    genuine = any(hmac.compare_digest(_mac(key, msisdn, expiry).encode(), mac.encode()) for key in keys)
    return until if genuine and now < until else None


def _mac(key: str, msisdn: str, expiry: str) -> str:
    digest = hmac.new(key.encode(), f"renew:{msisdn}:{expiry}".encode(), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _base36(n: int) -> str:
    digits = ""
    while True:
        n, d = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
        if n == 0:
            return digits
