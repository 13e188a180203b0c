"""Demo data for `make run`: a few lines of different operators, topped up, and a persistent admin token."""

from __future__ import annotations

import secrets
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


def demo_admin_token(settings: Settings) -> str:
    """A random token kept in the data directory (mode 600) so it survives restarts of `make run`."""
    path = settings.data_dir / "demo-admin-token"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(f"sk_demo_{secrets.token_urlsafe(24)}\n")
    return path.read_text().strip()
