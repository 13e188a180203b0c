"""Demo data for `make run`: a few lines of different operators, topped up. (The demo's secrets, its admin token
among them, are generated and kept by simkeep.config.with_demo_secrets.)"""

from __future__ import annotations

from collections.abc import Callable

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import NumberUnavailable
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.topup import service as topups

DEMO_LINES = [
    ("+33612345678", "fr-orange-mobicarte", "zh_CN", "fr-orange-mobicarte-10"),
    ("+33698765432", "fr-sfr-la-carte", "fr", "fr-sfr-la-carte-25"),
    ("+33756123456", "fr-free-2eur", "en", "fr-free-2eur-month"),
    ("+85251234567", "hk-shinetown-huamei", "zh_CN", "hk-shinetown-huamei-50"),
    ("+8613800138000", "cn-cmcc-8yuan", "zh_CN", "cn-cmcc-8yuan-month"),
]


def seed_demo(db: Database, settings: Settings, progress: Callable[[], None] | None = None) -> int:
    for msisdn, operator_id, language, offer_id in DEMO_LINES:
        try:
            with db.transaction() as session:
                lines.create_line(session, msisdn=msisdn, operator_id=operator_id, language=language,
                                  now=clock.now())
        except NumberUnavailable:
            pass  # already there from an earlier run
        with db.transaction() as session:
            topups.top_up(session, principal="demo", idempotency_key=f"demo:{msisdn}", msisdn=msisdn,
                          offer_id=offer_id, channel="agent", now=clock.now())
        if progress:
            progress()
    return len(DEMO_LINES)

