"""Which provider collects which payment method, per operator. A method nobody collects has no provider: it is not
offered, and nothing falls back to the sandbox. Demo mode routes every method to the sandbox, so `make run` works
offline."""

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.ledger.service import PROVIDERS  # the ledger opens each one's clearing account
from simkeep.payment.models import METHODS
from simkeep.payment.providers.base import PaymentProvider, ProviderDisabled

SANDBOX = "sandbox"
__all__ = ["ProviderDisabled", "available_methods", "enabled", "provider_for", "provider_named", "route", "routes"]


def routes(settings: Settings) -> dict[str, dict[str, str]]:
    """The route table in force: the configured one, and in demo mode (sandbox on) every method the configured
    table leaves out goes to the sandbox."""
    configured = settings.payment_routes
    if settings.env == "demo" and settings.sandbox_on:
        return {**configured, "*": {**dict.fromkeys(METHODS, SANDBOX), **configured.get("*", {})}}
    return configured


def route(method: str, operator_id: str, settings: Settings) -> str | None:
    """The provider that collects `method` for this operator, or None when no enabled provider does."""
    table = routes(settings)
    name = table.get(operator_id, {}).get(method) or table.get("*", {}).get(method)
    return name if name and enabled(name, settings) else None


def enabled(name: str, settings: Settings) -> bool:
    return name in PROVIDERS and (name != SANDBOX or settings.sandbox_on)


def available_methods(operator_id: str, settings: Settings) -> tuple[str, ...]:
    """The methods the portal offers for this operator's lines: those routed to an enabled provider, in the
    portal's order."""
    return tuple(m for m in METHODS if route(m, operator_id, settings))


def provider_for(method: str, operator_id: str, db: Database, settings: Settings) -> PaymentProvider:
    name = route(method, operator_id, settings)
    if name is None:
        raise ProviderDisabled(f"no provider collects {method!r} for {operator_id!r}")
    return provider_named(name, db, settings)


def provider_named(name: str, db: Database, settings: Settings) -> PaymentProvider:
    """Adapters are imported only when chosen: an SDK that is not configured is never loaded. Raises
    ProviderDisabled for an unknown name, and for the sandbox while it is off."""
    if not enabled(name, settings):
        raise ProviderDisabled(name)
    if name == SANDBOX:
        from simkeep.payment.providers.sandbox import SandboxProvider

        return SandboxProvider(db, settings)
    if name == "stripe":
        from simkeep.payment.providers.stripe import StripeProvider

        return StripeProvider(settings)
    if name == "paypal":
        from simkeep.payment.providers.paypal import PayPalProvider

        return PayPalProvider(settings)
    if name == "sepa":
        from simkeep.payment.providers.sepa.provider import SepaProvider

        return SepaProvider(db, settings)
    raise ProviderDisabled(name)
