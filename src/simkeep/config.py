"""The only reader of the environment: one Settings object, env prefix SIMKEEP_.

Building Settings validates nothing about secrets, so tests can build partial ones; `check(settings)` is what
`simkeep serve`, `simkeep worker` and `create_app` call before doing anything. In demo mode `get_settings()` fills
every secret that is not configured from `<data dir>/secrets.json` (generated on first start, mode 600)."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings, SettingsConfigDict
from stdnum.fr import siren as siren_number


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMKEEP_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # demo: what `simkeep run` uses (missing secrets generated and kept in the data directory, the sandbox on);
    # production: every secret must be configured and strong, or nothing starts (`check`).
    env: Literal["demo", "production"] = "production"
    admin_token: str | None = None
    # The master secret: every purpose gets its own key derived from it (see `key`). No default: `simkeep run`
    # generates one for the demo; production refuses to start without it.
    secret_key: str | None = None
    # Earlier master secrets, still accepted for verifying during a rotation's grace period (newest first).
    previous_secret_keys: list[str] = []
    sms_sender: str = "file"  # file | smpp
    smpp_url: str | None = None  # smpp://SYSTEM_ID:PASSWORD@HOST:PORT
    smpp_rate_per_second: float = 50.0  # 0: no throttling
    # USSD over the SMPP link: the code subscribers dial for the menu, and how long a session may stay silent before
    # it ends (networks drop a USSD dialogue after 30-180 s).
    ussd_code: str = "*100#"
    ussd_timeout_seconds: int = 180
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
    # A worker job that fails (database away, a bug) waits backoff * 2^(n-1), jittered, at most backoff_max.
    worker_backoff_seconds: float = 1.0
    worker_backoff_max_seconds: float = 60.0
    shutdown_grace_seconds: float = 20.0  # SIGTERM: requests in flight get this long to finish
    log_level: str = "info"
    # /metrics: served to this machine, or to anyone with `Authorization: Bearer <metrics_token>` (ops/metrics.py).
    metrics_token: str | None = None
    # The worker beats (worker_heartbeats) at most this often; /readyz fails once the newest beat is older than stale.
    worker_heartbeat_seconds: float = 10.0
    worker_heartbeat_stale_seconds: float = 120.0
    # Where people reach this deployment; links in SMS and receipts, and the sandbox's webhook target.
    public_url: str | None = None
    # The SIREN (9 digits) of the company whose books simkeep keeps: it names the FEC file the tax office receives
    # (accounting/fec.py). Demo mode uses DEMO_SIREN; production has no FEC until it is set.
    company_siren: str | None = None
    # The sandbox provider (a development tool): None means on in demo mode, off in production.
    sandbox_enabled: bool | None = None
    sandbox_webhook_secret: str | None = None
    # Sessions (stored server-side; the cookie holds a random id): idle and absolute expiry, portal and staff.
    session_idle_minutes: int = 120
    session_absolute_hours: int = 14 * 24
    staff_session_idle_minutes: int = 30
    staff_session_absolute_hours: int = 12
    # Back-office sign-in: failures before an account locks, for how long; per-address throttles.
    staff_max_failures: int = 5
    staff_lockout_minutes: int = 15
    staff_signins_per_ip: str = "20 per 15 minutes"
    staff_setup_per_ip: str = "10 per hour"
    staff_totp_roles: tuple[str, ...] = ("admin",)  # roles that must use a second factor
    # Proxies (CIDRs) whose X-Forwarded-For is believed; nobody else's is (web/client.py).
    trusted_proxies: tuple[str, ...] = ()
    rate_limit_storage: str = "memory://"  # redis://127.0.0.1:6379 when several processes serve
    rate_limit_prefix: str = "simkeep"  # Redis key prefix of the rate-limit counters
    # Which provider collects which payment method: {"*": {"card": "stripe"}, "<operator id>": {...}};
    # a method not listed has no provider and is not offered (demo mode sends every method to the sandbox).
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
    # Sign-in codes (otp/service.py says why these numbers cannot lock a holder out).
    code_wrong_guesses: int = 10  # wrong codes per number, whichever code they were for ...
    code_wrong_guess_hours: int = 24  # ... in this rolling window
    code_requests_per_number: str = "20 per hour"  # new codes per number (a still-valid code costs nothing)
    code_requests_per_ip: str = "20 per hour"  # per address (an IPv6 /64 is one address)
    code_checks_per_ip: str = "30 per 10 minutes"
    renewal_numbers_per_ip: str = "30 per hour"  # numbers typed in the renewal wizard, per address
    hotline: str | None = None  # the customer-service number the portal gives as another way to renew
    # Wrong API keys or admin tokens per client address; past it every bearer token gets 429 (web/deps.py).
    bearer_failures_per_ip: str = "20 per 10 minutes"
    # Recharge vouchers. The pepper keys the PIN hashes (HMAC-SHA256) and is not derived from the master secret:
    # rotating that must not orphan a million cards in circulation. The seal key encrypts (AES-GCM) the e-PINs a
    # reseller bought, so that a replayed purchase answers the same PINs. Demo mode generates both; without them
    # in production the voucher features refuse to run (voucher/pins.py).
    voucher_pepper: str | None = None
    voucher_seal_key: str | None = None
    voucher_failures_per_number: int = 5  # wrong PINs per number before redemption locks ...
    voucher_failure_hours: int = 24  # ... in this rolling window, until the next day
    voucher_redemptions_per_ip: str = "30 per hour"  # tries per client address (an IPv6 /64 is one address)
    voucher_redemptions_per_key: str = "600 per minute"  # tries per API key (a reseller's or a store's system)
    # SMS commands (SOLDE, RECHARGE ...) answered per sender; past it one "too many messages" reply, then silence.
    sms_commands_per_sender: str = "10 per 10 minutes"
    # Stores. The finder's map draws tiles from this URL template ({z}/{x}/{y}, e.g. a tile server of your own);
    # without it the map shows the outlines bundled with simkeep, which need no network.
    map_tiles_url: str | None = None
    map_tiles_attribution: str = ""  # shown under the map; what the tile provider's licence asks for
    store_void_minutes: int = 15  # a store manager may void a counter sale this long after it was made
    store_commission_percent: Decimal = Decimal("3")  # of each cash or card sale, for the store ...
    store_commission_per_offer: dict[str, int] = {}  # ... or a fixed amount per offer id, in minor units
    id_check_retention_days: int = 30  # ID checks recorded at the counter are purged after this
    quote_minutes: int = 15  # a quote holds its price this long unless a payment on it has started
    # Cashback: a partner's conversion stays pending and a customer's cashback waits this many days after the payment
    # (a refund before then cancels the cashback outright); then the worker confirms and credits them.
    cashback_cooling_days: int = 14
    # A partner link (/?partner=CODE) is remembered this long by the portal and passed to its quotes (last click wins).
    partner_attribution_days: int = 30
    counter_session_idle_minutes: int = 240  # a PIN sign-in on a counter tablet lasts a shift, not a day
    # The voice menu over HTTP, for an operator's IVR platform (voice/api.py). The JSON webhooks are signed with this
    # secret (t=…,v1=… HMAC-SHA256, as the sandbox's); VoiceXML platforms cannot sign, so their start URL carries the
    # entry key instead (/voice/vxml/start?key=…). Either mode is off (404) while its secret is not set.
    voice_platform_secret: str | None = None
    voice_vxml_key: str | None = None
    # The hotline's voice menu: where "0, an agent" transfers the call (a SIP URI, e.g. sip:agent@pbx.example);
    # empty, the menu says no agent is available. `voice_numbers_per_call` bounds the numbers one call may type.
    voice_agent_uri: str = ""
    voice_numbers_per_call: int = 3
    # `simkeep voice`, the hotline over SIP (voice/sip/): where it listens (UDP), the address it gives in Contact and
    # SDP when that is not reachable as is (behind NAT), its RTP ports ("low-high"), calls at once (486 beyond).
    voice_sip_host: str = "127.0.0.1"
    voice_sip_port: int = 5060
    voice_public_host: str | None = None
    voice_rtp_ports: str = "10000-10999"
    voice_max_calls: int = 50
    # Registering the hotline at the operator's registrar (sip:host:port; none: calls are routed to us as is), as
    # this user (the hotline number) with this password when challenged (digest).
    voice_registrar: str | None = None
    voice_user: str = "hotline"
    voice_password: str | None = None
    # Addresses (CIDRs) whose P-Asserted-Identity / From we believe (the operator's proxy or SBC): a call from
    # anywhere else is treated as a withheld number, which must type its number and the SMS code.
    voice_trusted_peers: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    # The network (network/): which provisioning adapter serves each operator (operator id → URL, "*" for any other),
    # e.g. {"fr-orange-mobicarte": "osmo-hlr://127.0.0.1:4259?vty=4258"}. An operator with none keeps its commands
    # pending (shown on the line's page) until one is configured.
    network_provisioning: dict[str, str] = {}
    # Signs every request to a provisioning gateway (an http(s):// URL above; network/adapters/gateway.py): required
    # and strong as soon as one is configured, and shared with that gateway, which verifies it.
    network_gateway_secret: str | None = None
    # A command the network could not take (down, or refused) is tried again after retry * 2^(n-1) seconds,
    # jittered, at most retry_max; a worker's lease on a command it is sending (longer than any adapter's timeout).
    network_retry_seconds: float = 2.0
    network_retry_max_seconds: float = 60.0
    network_lease_seconds: float = 20.0
    # How often the worker compares the network with every line's desired state (and repairs differences).
    network_drift_interval_seconds: float = 3600.0
    network_drift_repair: bool = True  # False: the worker's drift check only reports (staff repair with the CLI)
    # eSIM profiles (network/esim.py): the key that seals (AES-GCM) each profile's matching ID, the bearer secret of
    # its activation code. Not derived from the master secret, like the voucher seal key: rotating that must not make
    # the profiles in stock unreadable. Demo mode generates it; without it in production eSIMs refuse to run.
    esim_seal_key: str | None = None
    # How long the link in the "your eSIM is ready" e-mail may show the code (once) without a signed-in session.
    esim_link_days: int = 30
    # Personal-data retention (privacy/retention.py, the worker's daily `retention` job; /admin/privacy lists them).
    # Each is longer than the longest window the data serves: OTP and voucher-PIN failures count over 24 hours.
    retention_otp_days: int = 7  # sign-in codes (hashed) and wrong-code records: a week of abuse evidence
    retention_voucher_failure_days: int = 30  # wrong voucher PINs per number: a month to investigate PIN guessing
    retention_message_body_days: int = 90  # outbox payloads (what an SMS/e-mail said); status and receipts stay
    retention_inbound_text_days: int = 90  # what subscribers texted us (sender and outcome stay)
    retention_voice_turn_days: int = 30  # the digits typed in the voice menu, per step of a call
    retention_session_days: int = 0  # web sessions, counted from their expiry

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
    def siren(self) -> str | None:
        return self.company_siren or (DEMO_SIREN if self.env == "demo" else None)

    @property
    def sandbox_on(self) -> bool:
        return self.env == "demo" if self.sandbox_enabled is None else self.sandbox_enabled

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.json"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'simkeep.db'}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def cookie_secure(self) -> bool:
        """Cookies are Secure when people reach simkeep over HTTPS; over plain http (a phone on the LAN trying the
        demo at http://192.168.x.y:8000) a Secure cookie would never come back, so it is not set."""
        return self.base_url.startswith("https://")

    @property
    def messages_log(self) -> Path:
        return self.data_dir / "messages.log"


# A made-up SIREN with a valid check digit, so the demo's FEC has a well-formed name; never a real company's.
DEMO_SIREN = "999999998"


def _derive(master: str, purpose: str) -> str:
    return hmac.new(master.encode(), f"simkeep/{purpose}".encode(), hashlib.sha256).hexdigest()


# -- the startup check -------------------------------------------------------------------------------------------

MIN_SECRET_LENGTH = 32
# Values that were ever published in this repository (defaults, examples, sample output): known to everyone.
PUBLISHED = frozenset({
    "simkeep-dev-secret-change-me", "whsec_sandbox_dev_change_me", "sk_demo_fTFadmAhaxv3mBfycORHWnyTl09_9v0r",
    "test-admin-token", "whsec_", "sk_live_", "pk_live_",
})
# What each provider needs before a route may use it (setting name -> is it a secret to judge for strength).
PROVIDER_SETTINGS: dict[str, tuple[str, ...]] = {
    "stripe": ("stripe_api_key", "stripe_publishable_key", "stripe_webhook_secret"),
    "paypal": ("paypal_client_id", "paypal_client_secret", "paypal_webhook_id"),
    "sepa": (),
    "sandbox": (),
}
DEMO_SEPA_IBAN = "FR7630006000011234567890189"


class ConfigError(RuntimeError):
    """The settings are not safe to start with; `problems` names each setting and why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("refusing to start:\n" + "\n".join(f"  - {p}" for p in problems))


def weakness(value: str | None, *, min_length: int = MIN_SECRET_LENGTH) -> str | None:
    """Why a secret may not be used, or None if it may."""
    if not value:
        return "is not set"
    if value in PUBLISHED or value.strip() in PUBLISHED:
        return "is a value published in simkeep's source: anyone can forge with it"
    if len(value) < min_length:
        return f"is too short ({len(value)} characters; at least {min_length})"
    if len(set(value)) < 8:
        return "is too easy to guess (fewer than 8 different characters)"
    return None


USSD_CODE = re.compile(r"\*[0-9][0-9*]*#")


def check(settings: Settings) -> None:
    """Raise ConfigError naming every secret that is missing or weak, and every route to a provider that cannot
    be used. Run by `simkeep serve`, `simkeep worker` and `create_app`."""
    problems: list[str] = []

    def judge(name: str, value: str | None, **kw) -> None:
        if why := weakness(value, **kw):
            problems.append(f"SIMKEEP_{name.upper()} {why}")

    judge("secret_key", settings.secret_key)
    if settings.company_siren is not None and not siren_number.is_valid(settings.company_siren):
        problems.append("SIMKEEP_COMPANY_SIREN is not a valid SIREN (9 digits with a Luhn check digit)")
    for i, old in enumerate(settings.previous_secret_keys):
        if why := weakness(old):
            problems.append(f"SIMKEEP_PREVIOUS_SECRET_KEYS[{i}] {why}")
    if settings.admin_token is not None:
        judge("admin_token", settings.admin_token)
    for name in ("voucher_pepper", "voucher_seal_key", "voice_platform_secret", "voice_vxml_key", "esim_seal_key",
                 "metrics_token"):
        if getattr(settings, name) is not None:
            judge(name, getattr(settings, name))
    gateways = gateway_urls(settings)
    if gateways or settings.network_gateway_secret is not None:
        judge("network_gateway_secret", settings.network_gateway_secret)
    for url in gateways:
        if settings.env == "production" and not _private_transport(url):
            problems.append(f"SIMKEEP_NETWORK_PROVISIONING sends subscribers' IMSIs and numbers over plain http to "
                            f"{urlsplit(url).hostname}: use https:// (plain http only to this machine)")
    if settings.sandbox_on:
        judge("sandbox_webhook_secret", settings.sandbox_webhook_secret)
    for name in sorted(used_providers(settings)):
        if name not in PROVIDER_SETTINGS:
            problems.append(f"SIMKEEP_PAYMENT_ROUTES names an unknown provider {name!r} "
                            f"(available: {', '.join(PROVIDER_SETTINGS)})")
        elif name == "sandbox" and not settings.sandbox_on:
            problems.append("SIMKEEP_PAYMENT_ROUTES routes a method to the sandbox, which is off "
                            "(set SIMKEEP_SANDBOX_ENABLED=true to use it outside demo mode)")
        for field in PROVIDER_SETTINGS.get(name, ()):
            value = getattr(settings, field)
            if not value:
                problems.append(f"SIMKEEP_{field.upper()} is not set (SIMKEEP_PAYMENT_ROUTES uses {name})")
            elif value in PUBLISHED:
                problems.append(f"SIMKEEP_{field.upper()} is a value published in simkeep's source")
    if "sepa" in used_providers(settings) and settings.env == "production" and _iban(settings.sepa_iban) == DEMO_SEPA_IBAN:
        problems.append("SIMKEEP_SEPA_IBAN is the demo account printed in simkeep's source: transfers would go there")
    if not USSD_CODE.fullmatch(settings.ussd_code):
        problems.append(f"SIMKEEP_USSD_CODE {settings.ussd_code!r} is not a USSD code like *100# (digits and *, "
                        "ending in #)")
    if settings.ussd_timeout_seconds <= 0:
        problems.append("SIMKEEP_USSD_TIMEOUT_SECONDS must be positive")
    if problems:
        raise ConfigError(problems)


def _iban(value: str) -> str:
    return "".join(value.split()).upper()


def gateway_urls(settings: Settings) -> list[str]:
    """The provisioning URLs that name a gateway over HTTP (network/adapters/gateway.py)."""
    return [url for url in settings.network_provisioning.values() if urlsplit(url).scheme in ("http", "https")]


def _private_transport(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost", "::1")


def used_providers(settings: Settings) -> set[str]:
    return {name for routes in settings.payment_routes.values() for name in routes.values()}


# -- demo mode: secrets generated once and kept in the data directory ----------------------------------------------

DEMO_SECRETS: dict[str, Callable[[], str]] = {
    "secret_key": lambda: secrets.token_urlsafe(48),
    "admin_token": lambda: f"sk_demo_{secrets.token_urlsafe(32)}",
    "sandbox_webhook_secret": lambda: f"whsec_{secrets.token_urlsafe(32)}",
    "voucher_pepper": lambda: secrets.token_urlsafe(48),
    "voucher_seal_key": lambda: secrets.token_urlsafe(48),
    "voice_platform_secret": lambda: f"whsec_{secrets.token_urlsafe(32)}",
    "voice_vxml_key": lambda: secrets.token_urlsafe(32),
    "esim_seal_key": lambda: secrets.token_urlsafe(48),
}


def with_demo_secrets(settings: Settings) -> Settings:
    """The settings with every secret that is not configured taken from `secrets.json` in the data directory,
    generating (and keeping) those the file does not have yet. The file is locked while it is read and written, so
    a server and a worker starting together agree; it is created with mode 600."""
    missing = [name for name in DEMO_SECRETS if not getattr(settings, name)]
    if not missing:
        return settings
    path = settings.secrets_file
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, 0o600)  # an older file copied with a looser mode is tightened
        with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as file:
            text = file.read()
            try:
                stored: dict[str, str] = json.loads(text) if text.strip() else {}
            except json.JSONDecodeError as exc:
                raise ConfigError([f"{path} is not valid JSON ({exc}); fix or remove it"]) from exc
            legacy = settings.data_dir / "demo-admin-token"  # where earlier versions kept the demo token
            if "admin_token" not in stored and legacy.exists():
                stored["admin_token"] = legacy.read_text().strip()
            added = {name: DEMO_SECRETS[name]() for name in missing if not stored.get(name)}
            if added:
                stored.update(added)
                file.seek(0)
                file.truncate()
                json.dump(stored, file, indent=2)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
    finally:
        os.close(fd)  # releases the lock
    return settings.model_copy(update={name: stored[name] for name in missing})


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    return with_demo_secrets(settings) if settings.env == "demo" else settings
