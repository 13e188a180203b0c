"""Campaigns made and started through the promotion service, each in its own committed transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from simkeep.db import Database
from simkeep.promotion import service as promotions
from simkeep.promotion.models import PERCENT_OFF, Promotion
from simkeep.promotion.service import CampaignSpec


def make_promotion(db: Database, *, now: datetime, start: bool = True, name: str = "Spring -20%",
                   benefit: str = PERCENT_OFF, benefit_value: int = 20, **spec) -> Promotion:
    """Live from a day before `now` for thirty days unless `starts_at` / `ends_at` say otherwise."""
    spec.setdefault("starts_at", now - timedelta(days=1))
    spec.setdefault("ends_at", now + timedelta(days=30))
    with db.transaction() as session:
        promotion = promotions.create(session, CampaignSpec(name=name, benefit=benefit, benefit_value=benefit_value,
                                                            **spec), actor="staff:alice", reason="test", now=now)
        if start:
            promotions.change_state(session, promotion.id, "start", actor="staff:bob", reason="test", now=now)
        return promotion
