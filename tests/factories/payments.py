"""Paying through the sandbox provider, step by step, as the portal and the worker do."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from sqlalchemy import select

from simkeep.config import Settings
from simkeep.core.signing import sign
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.notification.models import OutboxMessage
from simkeep.payment import service as payments
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.providers.base import Checkout
from simkeep.payment.providers.sandbox import SandboxProvider
from simkeep.payment.tasks import process_inbox
from simkeep.sandbox import service as sandbox
from tests.conftest import SANDBOX_SECRET

SECRET = SANDBOX_SECRET


def now() -> datetime:
    return datetime.now(UTC)


def checkout(db: Database, cfg: Settings, *, method="card", key="checkout-1", offer_id="fr-orange-mobicarte-10",
             msisdn="+33612345678"):
    """The wizard's confirm step: record the attempt, call the provider, record what it said."""
    provider = SandboxProvider(db, cfg)
    with db.transaction() as session:
        line, operator, offer = lines.lock_live_line(session, msisdn, offer_id)
        attempt, _ = payments.start_checkout(session, checkout_key=key, line=line, operator=operator, offer=offer,
                                             method=method, provider="sandbox", language="fr", now=now())
    created = provider.create_payment(Checkout(str(attempt.id), attempt.amount_minor, attempt.currency, method,
                                               "test", f"/pay/{attempt.id}", "fr"))
    with db.transaction() as session:
        payments.record_created(session, attempt.id, created, now=now())
    return attempt.id, created.ref


def pay(db: Database, ref: str, action="pay", card="4242424242424242") -> dict:
    """The payer acts on the sandbox page; returns the webhook event the sandbox queued."""
    with db.transaction() as session:
        sandbox.act(session, ref=ref, action=action, card_number=card, webhook_url="http://x/webhooks/sandbox",
                    now=now())
    with db.transaction(write=False) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")
                               .order_by(OutboxMessage.created_at.desc())).all()
    return rows[0].payload


def deliver(db: Database, cfg: Settings, event: dict, *, secret=SECRET, at: int | None = None) -> bool:
    body = json.dumps(event, separators=(",", ":")).encode()
    header = sign(secret, body, at if at is not None else int(time.time()))
    parsed = SandboxProvider(db, cfg).parse_webhook(body, {"simkeep-signature": header})
    with db.transaction() as session:
        return payments.store_event(session, provider="sandbox", event=parsed, now=now())


def paid(db: Database, cfg: Settings, **checkout_args):
    """A card payment all the way to the credit; returns the attempt id."""
    attempt_id, ref = checkout(db, cfg, **checkout_args)
    deliver(db, cfg, pay(db, ref))
    process_inbox(db, cfg)
    return attempt_id


def attempt_status(db, attempt_id) -> str:
    with db.transaction(write=False) as session:
        return session.get(PaymentAttempt, attempt_id).status
