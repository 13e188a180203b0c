"""Rate limits for the sign-in code, per number and per client address (the `limits` library)."""

from __future__ import annotations

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

CODE_REQUESTS_PER_NUMBER = parse("3 per 15 minutes")
CODE_REQUESTS_PER_IP = parse("20 per hour")
CODE_CHECKS_PER_IP = parse("30 per 10 minutes")


class RateLimits:
    def __init__(self, storage_uri: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def allow(self, limit, *keys: str) -> bool:
        return self.limiter.hit(limit, *keys)
