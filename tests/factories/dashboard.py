"""A month of back-office activity for the dashboard's browser test and screenshot: renewals on several channels
(through the top-up service, so the ledger holds them), reminders, numbers lost and returned, payment attempts,
review items and lines close to their number-loss date."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update

from simkeep.core.ids import new_id
from simkeep.db import Database
from simkeep.line.models import Line, LineEvent
from simkeep.notification import outbox
from simkeep.payment.models import PaymentAttempt
from tests.factories.lines import make_line, top_up

CHANNELS = ("portal", "voucher", "agent", "api", "sms")
PROVIDERS = (("stripe", "card"), ("stripe", "wechat_pay"), ("paypal", "paypal"))


def make_month(db: Database, *, now: datetime, lines: int = 24) -> list[uuid.UUID]:
    """`lines` Orange lines made 60 days ago; over the last 30 days each renews on a channel of its own, gets a
    reminder first, and some pay online; a few are lost, returned to the pool, or near their number-loss date."""
    start = now - timedelta(days=60)
    ids = []
    for n in range(lines):
        number = f"+336{20000000 + n}"
        line = make_line(db, msisdn=number, language=("fr", "en", "zh_CN")[n % 3], now=start)
        ids.append(line.id)
        reminded = now - timedelta(days=29 - n % 28, hours=3)
        with db.transaction() as session:
            outbox.enqueue(session, [outbox.Message(
                dedup_key=f"reminder:{line.id}:{n}", topic="reminder", channel=outbox.SMS, recipient=number,
                language=line.language, line_id=line.id, payload={"days_before": (30, 7, 3, 1)[n % 4]})],
                now=reminded)
        if n % 4 != 3:  # three in four renew after their reminder
            renewed = top_up(db, msisdn=number, channel=CHANNELS[n % len(CHANNELS)],
                             now=reminded + timedelta(days=n % 5, hours=2))
            provider, method = PROVIDERS[n % len(PROVIDERS)]
            attempt(db, line.id, "succeeded", renewed.topup.created_at, provider=provider, method=method,
                    topup_id=renewed.topup.id if CHANNELS[n % len(CHANNELS)] == "portal" else None)
        if n % 6 == 0:
            attempt(db, line.id, "failed", reminded + timedelta(hours=1))
        if n % 8 == 5:
            attempt(db, line.id, "review", reminded, updated_at=now - timedelta(days=n % 9, hours=1))
    with db.transaction() as session:
        for k, line_id in enumerate(ids[:6]):
            session.add(LineEvent(id=new_id(), line_id=line_id, from_state="suspended", to_state="deactivated",
                                  reason="sweep", at=now - timedelta(days=3 + 4 * k)))
            session.add(LineEvent(id=new_id(), line_id=line_id, from_state="quarantine", to_state="available",
                                  reason="sweep", at=now - timedelta(days=1 + 5 * k)))
        for k, line_id in enumerate(ids[6:14]):
            session.execute(update(Line).where(Line.id == line_id).values(
                number_loss_at=now + timedelta(days=(2, 5, 12, 20, 26, 40, 60, 85)[k])))
    return ids


def attempt(db: Database, line_id: uuid.UUID, status: str, at: datetime, *, provider: str = "stripe",
            method: str = "card", topup_id: uuid.UUID | None = None, updated_at: datetime | None = None) -> None:
    """A payment attempt with the columns payment.flow records (the dashboard reads only these)."""
    with db.transaction() as session:
        session.add(PaymentAttempt(
            id=new_id(), checkout_key=uuid.uuid4().hex, line_id=line_id, msisdn="+33600000000",
            offer_id="fr-orange-mobicarte-10", amount_minor=1000, currency="EUR", method=method, provider=provider,
            provider_ref=None, next_action=None, status=status, failure_reason=None, language="fr",
            topup_id=topup_id, receipt_id=None, created_at=at, updated_at=updated_at or at, quote_id=None,
            channel=None))
