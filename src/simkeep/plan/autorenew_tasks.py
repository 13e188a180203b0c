"""Worker job: renew every line whose auto-renew is due, as of `now`.

Three passes, each in keyset pages, each page claimed in one transaction (the UNIQUE (line, period) charge row is
the claim), charged at the provider outside any transaction, and answered in one more: charges a dead worker left
"charging" (asked again with the same key), retries whose time has come, then the due lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.payment import flow
from simkeep.plan import autorenew
from simkeep.plan.autorenew import Claimed, Links

log = structlog.get_logger()


@dataclass
class AutoRenewResult:
    charged: int = 0  # provider calls made (asked again included)
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def links_for(settings: Settings) -> Links:
    return Links(settings.base_url, settings.key(autorenew.LINK_PURPOSE))


def run_autorenew(db: Database, settings: Settings, *, now: datetime | None = None, batch: int = 500,
                  after_charge: Callable[[Claimed], None] | None = None) -> AutoRenewResult:
    """`after_charge` runs between a provider's answer and its recording (tests use it to play a crash there)."""
    now = now or clock.now()
    links = links_for(settings)
    result = AutoRenewResult()

    def charge_all(claimed: list[Claimed]) -> None:
        answers = []
        for c in claimed:
            answers.append((c, flow.charge_saved(db, settings, attempt=c.attempt, customer_ref=c.customer_ref,
                                                 method_ref=c.method_ref, description=c.description)))
            result.charged += 1
            if after_charge is not None:
                after_charge(c)
        if not answers:
            return
        with db.transaction() as session:
            for c, status in answers:
                result.add(autorenew.record(session, c, status, receipt_secret=settings.key("receipt"),
                                            base_url=settings.base_url, links=links, now=now))

    while True:
        with db.transaction() as session:
            stuck = autorenew.claim_stuck(session, now=now, limit=batch)
        charge_all(stuck)
        if len(stuck) < batch:
            break
    while True:
        with db.transaction() as session:
            retries, waiting = autorenew.claim_retries(session, now=now, limit=batch)
        for attempt in waiting:  # closed at the provider before any new try (its payer may be paying it)
            flow.cancel_off_session(db, settings, attempt)
        charge_all(retries)
        if len(retries) + len(waiting) < batch:
            break
    after = None
    while True:
        with db.transaction() as session:
            due, after = autorenew.due_page(session, now=now, after=after, limit=batch)
            claimed = [c for d in due if (c := autorenew.claim_due(session, d, now=now)) is not None]
        charge_all(claimed)
        if after is None:
            break
    if result.charged:
        log.info("autorenew.done", charged=result.charged, **result.outcomes)
    return result
