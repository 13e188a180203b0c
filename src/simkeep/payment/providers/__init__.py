"""Which provider collects which payment method, per operator. The sandbox serves anything not configured."""

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.payment.providers.base import PaymentProvider

SANDBOX = "sandbox"


def route(method: str, operator_id: str, settings: Settings) -> str:
    routes = settings.payment_routes
    return routes.get(operator_id, {}).get(method) or routes.get("*", {}).get(method) or SANDBOX


def provider_for(method: str, operator_id: str, db: Database, settings: Settings) -> PaymentProvider:
    return provider_named(route(method, operator_id, settings), db, settings)


def provider_named(name: str, db: Database, settings: Settings) -> PaymentProvider:
    """Adapters are imported only when chosen: an SDK that is not configured is never loaded."""
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
        from simkeep.payment.providers.sepa import SepaProvider

        return SepaProvider(db, settings)
    raise KeyError(name)
