"""Which provider collects which payment method. The sandbox serves all of them by default."""

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.payment.providers.base import PaymentProvider


def provider_for(method: str, db: Database, settings: Settings) -> PaymentProvider:
    return provider_named("sandbox", db, settings)


def provider_named(name: str, db: Database, settings: Settings) -> PaymentProvider:
    if name == "sandbox":
        from simkeep.payment.providers.sandbox import SandboxProvider

        return SandboxProvider(db, settings)
    raise KeyError(name)
