"""Per-address throttles for the back-office doors (sign-in, TOTP, first-admin setup): the `limits` library, in
memory or in Redis (SIMKEEP_RATE_LIMIT_STORAGE) like the portal's. Counted by web.client.client_key (an IPv6
/64 is one address; X-Forwarded-For only from trusted proxies)."""

from __future__ import annotations

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from simkeep.config import Settings


class StaffThrottle:
    def __init__(self, settings: Settings) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self.signin = parse(settings.staff_signins_per_ip)
        self.setup = parse(settings.staff_setup_per_ip)

    def may_sign_in(self, client: str) -> bool:
        return self.limiter.hit(self.signin, "staff-signin", client)

    def may_set_up(self, client: str) -> bool:
        return self.limiter.hit(self.setup, "staff-setup", client)
