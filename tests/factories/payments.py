"""Paying through the sandbox provider, step by step, as the portal and the worker do."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from simkeep.config import Settings
from simkeep.core.signing import sign
from simkeep.db import Database
from simkeep.lifecycle.tasks import run_sweep
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


# -- review items, one of each kind, through the same paths as in production -------------------------------------

def in_review_line_lost(db: Database, cfg: Settings, *, key: str = "lost") -> uuid.UUID:
    """Paid at the provider, but the line was deactivated before the payment was applied: never credited."""
    attempt_id, ref = checkout(db, cfg, key=key)
    event = pay(db, ref)
    with db.transaction(write=False) as session:
        line = lines.find_live_line(session, "+33612345678")
    run_sweep(db, now=line.number_loss_at)
    deliver(db, cfg, event)
    process_inbox(db, cfg)
    return attempt_id


def in_review_amount_differs(db: Database, cfg: Settings, *, key: str = "differs") -> uuid.UUID:
    """The provider said 0.01 EUR arrived for a 10.00 EUR order: never credited."""
    attempt_id, ref = checkout(db, cfg, key=key)
    event = pay(db, ref)
    deliver(db, cfg, {**event, "id": f"evt_differs_{key}", "data": {**event["data"], "amount_minor": 1}})
    process_inbox(db, cfg)
    return attempt_id


def in_review_disputed(db: Database, cfg: Settings, *, key: str = "disputed") -> uuid.UUID:
    """Paid and credited, then disputed by the payer with their bank."""
    attempt_id, ref = checkout(db, cfg, key=key)
    deliver(db, cfg, pay(db, ref))
    deliver(db, cfg, {"id": f"evt_dispute_{key}", "type": "payment.disputed",
                      "data": {"ref": ref, "amount_minor": 1000, "currency": "EUR", "failure": "fraudulent"}})
    process_inbox(db, cfg)
    return attempt_id
