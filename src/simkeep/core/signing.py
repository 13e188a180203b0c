"""Webhook signatures in Stripe's scheme: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.raw_body">`.

The signature covers the exact bytes received: verifying a re-serialised body would accept tampering and refuse
honest senders whose JSON differs only in spacing.
"""

from __future__ import annotations

import hashlib
import hmac

TOLERANCE_SECONDS = 300


class BadSignature(Exception):
    pass


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str | None, now: int, tolerance: int = TOLERANCE_SECONDS) -> int:
    """Return the signed timestamp, or raise BadSignature (forged, malformed, or older than the tolerance)."""
    if not header:
        raise BadSignature("missing signature header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise BadSignature("no timestamp") from exc
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise BadSignature("signature does not match")
    if abs(now - timestamp) > tolerance:
        raise BadSignature("timestamp outside the tolerance")
    return timestamp
