"""Renewal links that prove they came from us: `/r/33612345678.g1s.<mac>`.

A reminder goes to the line's own phone; its link names the number and carries an HMAC (the "renewal_link" key)
of that number and an expiry, the last day of the line's number-loss date when the reminder was written. Until
then the number cannot belong to anyone else (a lost number is held in quarantine before it is given again), so a
genuine link names the line itself: the wizard may open that line's operator with the number filled in, and show
the validity dates the reminder already told. The older `/recharge?msisdn=` links (and any number typed by anyone)
prove nothing and only prefill the number.

The link is as short as the plain one (it travels in SMS, where 22 more characters cost Chinese texts a segment):
the number's digits, the expiry as a base 36 day number, and 72 bits of HMAC-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

PURPOSE = "renewal_link"  # Settings.key(PURPOSE)
MAC_BYTES = 9
DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHAPE = re.compile(r"(\d{6,15})\.([0-9a-z]{1,6})\.([A-Za-z0-9_-]{12})")


@dataclass(frozen=True, slots=True)
class RenewalLinks:
    """Where reminders send people: the portal's address and the key that signs links (None: the plain
    `/recharge?msisdn=` links, which only prefill the number)."""

    base: str
    key: str | None = None

    def url(self, msisdn: str, *, until: datetime) -> str:
        if self.key is None:
            return f"{self.base}/recharge?msisdn={quote(msisdn, safe='')}"
        return f"{self.base}/r/{token(self.key, msisdn, until)}"


PLAIN = RenewalLinks("")  # relative links that only prefill the number (tests, previews)


@dataclass(frozen=True, slots=True)
class Reading:
    msisdn: str | None  # the number the link names (E.164), if it can be read at all
    until: datetime | None  # when the link stops working, if it is genuine and still valid


def token(key: str, msisdn: str, until: datetime) -> str:
    """The link's last part: valid to the end of the UTC day of `until` (a little after it, never before)."""
    body = f"{msisdn.removeprefix('+')}.{_base36((until - EPOCH) // DAY)}"
    return f"{body}.{_mac(key, body)}"


def read(keys: Sequence[str], link: str, *, now: datetime) -> Reading:
    """What a link says. `keys`: the current key and those still accepted during a rotation
    (Settings.verifying_keys)."""
    found = SHAPE.fullmatch(link)
    if found is None:
        start = re.match(r"\d{6,15}", link)  # a link cut short may still name its number
        return Reading(f"+{start.group(0)}" if start else None, None)
    digits, day, mac = found.groups()
    until = EPOCH + (int(day, 36) + 1) * DAY
    body = f"{digits}.{day}"
    genuine = any(hmac.compare_digest(_mac(key, body), mac) for key in keys)
    return Reading(f"+{digits}", until if genuine and now < until else None)


def _mac(key: str, body: str) -> str:
    digest = hmac.new(key.encode(), f"renew:{body}".encode(), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode()


def _base36(n: int) -> str:
    digits = ""
    while True:
        n, d = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
        if n == 0:
            return digits
