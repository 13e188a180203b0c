"""The only reader of the environment: one Settings object, env prefix SIMKEEP_."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMKEEP_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str | None = None
    # The master secret: every purpose gets its own key derived from it (see `key`). No default: `simkeep run`
    # generates one for the demo; production refuses to start without it.
    secret_key: str | None = None
    # Earlier master secrets, still accepted for verifying during a rotation's grace period (newest first).
    previous_secret_keys: list[str] = []
    sms_sender: str = "file"  # file | smpp
    smpp_url: str | None = None  # smpp://SYSTEM_ID:PASSWORD@HOST:PORT
    smpp_rate_per_second: float = 50.0  # 0: no throttling
    smtp_url: str | None = None  # smtp://USER:PASSWORD@HOST:PORT; e-mail goes to the file sender without it
    mail_from: str = "simkeep <no-reply@simkeep.invalid>"
    default_region: str = "FR"
    max_body_bytes: int = 64 * 1024
    # Threads per server process for the JSON API's transactions (web/lane.py says why so few).
    db_threads: int = 3
    max_statement_bytes: int = 20 * 1024 * 1024
    worker_poll_seconds: float = 1.0
    sweep_interval_seconds: float = 60.0
    outbox_max_attempts: int = 8
    outbox_lease_seconds: int = 60
    log_level: str = "info"
    # Where people reach this deployment; links in SMS and receipts, and the sandbox's webhook target.
    public_url: str | None = None
    sandbox_webhook_secret: str = "whsec_sandbox_dev_change_me"
    cookie_secure: bool = True
    # Proxies (CIDRs) whose X-Forwarded-For is believed; nobody else's is (web/client.py).
    trusted_proxies: tuple[str, ...] = ()
    rate_limit_storage: str = "memory://"  # redis://127.0.0.1:6379 when several processes serve
    # Which provider collects which payment method: {"*": {"card": "stripe"}, "<operator id>": {...}};
    # anything not listed goes to the sandbox, so `make run` works offline.
    payment_routes: dict[str, dict[str, str]] = {}
    stripe_api_key: str | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None  # e.g. a local stripe mock in tests
    paypal_client_id: str | None = None
    paypal_client_secret: str | None = None
    paypal_webhook_id: str | None = None
    paypal_api_base: str = "https://api-m.sandbox.paypal.com"
    sepa_creditor_name: str = "simkeep demo operator"
    sepa_iban: str = "FR7630006000011234567890189"
    sepa_bic: str = "AGRIFRPP"
    code_requests_per_number: str = "3 per 15 minutes"
    code_requests_per_ip: str = "20 per hour"
    code_checks_per_ip: str = "30 per 10 minutes"
    # Wrong API keys or admin tokens per client address; past it every bearer token gets 429 (web/deps.py).
    bearer_failures_per_ip: str = "20 per 10 minutes"

    def key(self, purpose: str) -> str:
        """The key for one purpose ("session", "receipt", "api_key", "otp", ...), derived from the master
        secret so that a leak of one purpose's key reveals neither the master nor the others."""
        return _derive(self._master(), purpose)

    def verifying_keys(self, purpose: str) -> list[str]:
        """The current key first, then those derived from previous secrets: what still verifies or matches."""
        return [self.key(purpose), *(_derive(old, purpose) for old in self.previous_secret_keys)]

    def _master(self) -> str:
        if not self.secret_key:
            raise RuntimeError("SIMKEEP_SECRET_KEY is not set")
        return self.secret_key

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'simkeep.db'}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def messages_log(self) -> Path:
        return self.data_dir / "messages.log"


def _derive(master: str, purpose: str) -> str:
    return hmac.new(master.encode(), f"simkeep/{purpose}".encode(), hashlib.sha256).hexdigest()


@lru_cache
def get_settings() -> Settings:
    return Settings()
