"""The USSD menu as the worker's SMPP link calls it, and the sweep that ends silent sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.notification.senders.base import UssdIn
from simkeep.notification.service import UssdMenu
from simkeep.ussd import service


def menu(settings: Settings) -> UssdMenu:
    """What the SMPP listener calls with each USSD PDU, in its transaction: True when an answer was queued."""
    config = service.Menu.of(settings)

    def answer(session: Session, message: UssdIn, now: datetime) -> bool:
        return service.handle(session, request=service.Request.of(message), menu=config, now=now) is not None

    return answer


def expire_idle(db: Database, settings: Settings) -> int:
    with db.transaction() as session:
        return service.expire_idle(session, timeout=timedelta(seconds=settings.ussd_timeout_seconds),
                                   now=clock.now())
