"""Rate limits for the sign-in code, per number and per client address, and for wrong bearer tokens per client
address (the `limits` library)."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from simkeep.config import Settings


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self.code_per_number = parse(settings.code_requests_per_number)
        self.code_per_ip = parse(settings.code_requests_per_ip)
        self.checks_per_ip = parse(settings.code_checks_per_ip)
        self.bearer_failures_per_ip = parse(settings.bearer_failures_per_ip)

    def may_send_code(self, msisdn: str, client: str) -> bool:
        return (self.limiter.hit(self.code_per_ip, "code-ip", client)
                and self.limiter.hit(self.code_per_number, "code-number", msisdn))

    def may_check_code(self, client: str) -> bool:
        return self.limiter.hit(self.checks_per_ip, "check-ip", client)

    def bearer_retry_after(self, client: str) -> int:
        """0 while this address may still try a bearer token; else the seconds until one more wrong try is allowed."""
        if self.limiter.test(self.bearer_failures_per_ip, "bearer-ip", client):
            return 0
        reset_at = self.limiter.get_window_stats(self.bearer_failures_per_ip, "bearer-ip", client).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def bearer_failed(self, client: str) -> None:
        self.limiter.hit(self.bearer_failures_per_ip, "bearer-ip", client)
