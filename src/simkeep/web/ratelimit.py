"""Per-address rate limits for the portal's sign-in and renewal (the `limits` library).

Who is counted: `web.client.client_key`, so X-Forwarded-For is believed only from SIMKEEP_TRUSTED_PROXIES and an
IPv6 client counts by its /64 (rotating addresses inside one subscriber's block does not multiply the budget).
Where: in this process's memory by default; with SIMKEEP_RATE_LIMIT_STORAGE=redis://HOST:PORT the counters live
in Redis, shared by every server process and machine (keys start with SIMKEEP_RATE_LIMIT_PREFIX).

What is counted here is per address, because an address is what carries abuse. The per-number limits live in the
database with the codes themselves (otp/service.py explains why they cannot lock a holder out).

Wrong bearer tokens (API keys, the admin token) are counted per address too (web/deps.py).

Recharge card PINs are guessed, so every try is counted before any lookup: per address where people type them
(the portal: `may_try_voucher`), per API key where systems send them (the JSON API: `voucher_key_wait`; a store's
or a partner's backend redeems for many customers from one address, so its key is what identifies it). The
per-number lockout (5 wrong PINs in 24 hours) lives in the database with the failures (voucher/service.py).
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from simkeep.config import Settings
from simkeep.web.client import client_key


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        options = {"key_prefix": settings.rate_limit_prefix} if settings.rate_limit_storage.startswith(
            ("redis", "rediss")) else {}
        self.storage = storage_from_string(settings.rate_limit_storage, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.trusted_proxies = tuple(settings.trusted_proxies)
        self.code_per_ip = parse(settings.code_requests_per_ip)
        self.checks_per_ip = parse(settings.code_checks_per_ip)
        self.numbers_per_ip = parse(settings.renewal_numbers_per_ip)
        self.bearer_failures_per_ip = parse(settings.bearer_failures_per_ip)
        self.vouchers_per_ip = parse(settings.voucher_redemptions_per_ip)
        self.vouchers_per_key = parse(settings.voucher_redemptions_per_key)

    def client(self, request: Request) -> str:
        return client_key(request, self.trusted_proxies)

    def may_send_code(self, request: Request) -> bool:
        return self.limiter.hit(self.code_per_ip, "code-ip", self.client(request))

    def may_check_code(self, request: Request) -> bool:
        return self.limiter.hit(self.checks_per_ip, "check-ip", self.client(request))

    def may_check_number(self, request: Request) -> bool:
        """The renewal wizard's number step answers whether a number can be renewed: bounded per address, so it
        cannot be used to sweep the numbering plan."""
        return self.limiter.hit(self.numbers_per_ip, "number-ip", self.client(request))

    def may_try_voucher(self, request: Request) -> bool:
        """One recharge card PIN tried from this address (the portal), whatever the number: False once the address
        has spent its budget (SIMKEEP_VOUCHER_REDEMPTIONS_PER_IP); `voucher_ip_wait` says for how long. The
        per-number lockout (voucher/service.py) bounds what one number can guess; this bounds what one address can,
        across numbers."""
        return self.limiter.hit(self.vouchers_per_ip, "voucher-ip", self.client(request))

    def voucher_ip_wait(self, request: Request) -> int:
        """Seconds until this address may try a PIN again (at least 1); 0 if it may now. Counts nothing."""
        return self._wait(self.vouchers_per_ip, "voucher-ip", self.client(request))

    def voucher_key_wait(self, principal: str) -> int:
        """One PIN tried by this API key (SIMKEEP_VOUCHER_REDEMPTIONS_PER_KEY): 0 if it may (the try is counted),
        else the seconds until it may try again (nothing counted)."""
        if self.limiter.hit(self.vouchers_per_key, "voucher-key", principal):
            return 0
        return max(1, self._wait(self.vouchers_per_key, "voucher-key", principal))

    def _wait(self, limit, *keys: str) -> int:
        if self.limiter.test(limit, *keys):
            return 0
        reset_at = self.limiter.get_window_stats(limit, *keys).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def bearer_retry_after(self, client: str) -> int:
        """0 while this address may still try a bearer token; else the seconds until one more wrong try is allowed."""
        return self._wait(self.bearer_failures_per_ip, "bearer-ip", client)

    def bearer_failed(self, client: str) -> None:
        self.limiter.hit(self.bearer_failures_per_ip, "bearer-ip", client)
