"""A line that went through everything a timeline shows, each step through its own service at an instant of the
test's choosing (the frozen clock: tests.conftest.T0), each in its own committed transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from simkeep.catalog import service as catalog
from simkeep.charge import service as charges
from simkeep.db import Database
from simkeep.history import actions
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import rules
from simkeep.line import service as lines
from simkeep.notification import service as notifications
from simkeep.notification.models import OutboxMessage
from simkeep.notification.senders.base import Sent
from simkeep.payment import refunds
from simkeep.payment import service as payments
from simkeep.payment.providers.base import ProviderPayment, ProviderStatus, RefundResult
from simkeep.store import console as store_console
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.stores import make_store

SYMA = "fr-syma"  # grace 90, suspended 30, quarantine 45 days
MSISDN = "+33612345678"
EMAIL = "Li.Wei@Example.org"
HOUR = timedelta(hours=1)


def pay_by_card(db: Database, *, at: datetime, key: str = "pay-1", ref: str = "sbx_pay_1",
                msisdn: str = MSISDN, offer_id: str = "fr-syma-5") -> uuid.UUID:
    """A card payment recorded, answered by the provider and credited, all at `at`; returns the attempt's id."""
    with db.transaction() as session:
        line, operator, offer = lines.lock_live_line(session, msisdn, offer_id)
        attempt, _ = payments.start_checkout(session, checkout_key=key, line=line, operator=operator, offer=offer,
                                             method="card", provider="sandbox", language="fr", now=at)
        payments.record_created(session, attempt.id, ProviderPayment(ref, {"type": "redirect", "url": "/x"}), now=at)
        payments.record_status(session, payments.get_attempt(session, attempt.id),
                               ProviderStatus(ref, "succeeded", attempt.amount_minor, attempt.currency),
                               source="capture", now=at)
        for event in payments.claim_events(session):
            payments.handle_event(session, event, receipt_secret="r" * 32, base_url="http://test", now=at)
    return attempt.id


def refund(db: Database, attempt_id: uuid.UUID, *, amount_minor: int, at: datetime) -> None:
    with db.transaction() as session:
        row, _ = refunds.request_refund(session, attempt_id=attempt_id, amount_minor=amount_minor,
                                        reason="customer asked", actor="staff:fay", idempotency_key="refund-1", now=at)
        refunds.record_outcome(session, row.id, result=RefundResult("re_1", "succeeded"), refused=None, now=at)


def deliver_with_receipt(db: Database, topic: str, *, sent_at: datetime, receipt_at: datetime) -> OutboxMessage:
    """The SMS of `topic` sent through the SMSC (its id smsc-1) and its delivery receipt (DELIVRD) recorded."""
    with db.transaction() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic,
                                                              OutboxMessage.channel == "sms")).one()
        outgoing = next(m for m in notifications.claim_due(session, now=sent_at, limit=100) if m.id == message.id)
        notifications.record_sent(session, outgoing, sent=Sent(external_id="smsc-1"), now=sent_at)
    with db.transaction() as session:
        assert notifications.record_receipt(session, external_id="smsc-1", status="DELIVRD", now=receipt_at)
        return session.get_one(OutboxMessage, message.id)


def line_through_everything(db: Database) -> uuid.UUID:
    """Created at T0, a top-up by API (T0+1h) whose SMS is delivered (T0+2h), a charge (T0+3h), an ID check at a
    store (T0+4h), a staff note (T0+5h), a card payment (T0+6h), part of it refunded (T0+7h); then swept through
    grace, suspended, deactivated, quarantine and back to the pool at each stage's first instant."""
    line = make_line(db, operator_id=SYMA, now=T0)
    with db.transaction() as session:
        session.get_one(type(line), line.id).email = EMAIL
    top_up(db, offer_id="fr-syma-5", now=T0 + HOUR)
    deliver_with_receipt(db, "topup.completed", sent_at=T0 + HOUR, receipt_at=T0 + 2 * HOUR)
    with db.transaction() as session:
        charges.charge(session, principal="test", idempotency_key="c1", msisdn=MSISDN, amount_minor=50, kind="sms",
                       now=T0 + 3 * HOUR)
    store = make_store(db, now=T0)
    with db.transaction() as session:
        store_console.record_id_check(session, store_id=store.id, line=lines.get_line(session, line.id),
                                      document_type="passport", issuing_country="FR", last4="12 34",
                                      checked_by="staff:agent-1", now=T0 + 4 * HOUR)
    with db.transaction() as session:
        actions.add_note(session, line=lines.get_line(session, line.id), actor="staff:sam",
                         text="Called: abroad until May.", now=T0 + 5 * HOUR)
    attempt_id = pay_by_card(db, at=T0 + 6 * HOUR)
    refund(db, attempt_id, amount_minor=200, at=T0 + 7 * HOUR)
    for state in ("grace", "suspended", "deactivated", "quarantine", "available"):
        with db.transaction(write=False) as session:
            current = lines.get_line(session, line.id)
            operator_stages = stages_of(session, current)
        run_sweep(db, now=operator_stages.start_of(state))
    return line.id


def stages_of(session, line) -> rules.Stages:
    return rules.stages(catalog.get_operator(session, line.operator_id), line.validity_ends_at)
