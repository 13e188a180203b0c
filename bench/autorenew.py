"""Auto-renew: one sweep over N lines whose renewal is due (sandbox provider: a saved card that approves), against
a raw baseline measured in the same run on the same lines: the plain top-up of each line (one `top_up` per
transaction, as the API makes it), without the charge row, the quote, the payment attempt, the provider's own
record and webhook, the receipt.

    bench: autorenew_pg_sweep_s        seconds for the whole sweep
    bench: autorenew_pg_lines_per_s    lines renewed per second
    bench: autorenew_pg_topup_per_s    the raw baseline: plain top-ups per second
    bench: autorenew_pg_ratio          baseline / sweep (what the charge, provider and receipt steps cost)
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.common import Sizes, note, pg_url, recreate_database, report
from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.core.ids import new_id
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.migrate import upgrade
from simkeep.payment.models import METHODS
from simkeep.plan.autorenew_models import AutoRenewCharge, AutoRenewSetting, SavedMethod
from simkeep.plan.autorenew_tasks import run_autorenew
from simkeep.topup import service as topups
from simkeep.topup.models import TopUp

DATABASE = "simkeep_bench_autorenew"
OPERATOR, OFFER = "fr-orange-mobicarte", "fr-orange-mobicarte-10"
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LINES = {"full": int(os.environ.get("SIMKEEP_BENCH_AUTORENEW", 100_000)), "quick": 5_000}


def bench_autorenew_pg(sizes: Sizes) -> None:
    n = LINES[sizes.label]
    recreate_database(DATABASE)
    url = pg_url(DATABASE)
    upgrade(url)
    db = Database(url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=url, secret_key="bench-secret-0123456789abcdef0123456789",
                            sandbox_enabled=True, sandbox_webhook_secret="whsec_bench_0123456789abcdef0123",
                            payment_routes={"*": dict.fromkeys(METHODS, "sandbox")})
        numbers, due_at = _enrol(db, n)
        started = time.perf_counter()
        result = run_autorenew(db, settings, now=due_at)
        sweep = time.perf_counter() - started
        assert result.outcomes == {"succeeded": n}, result.outcomes
        _check(db, n)
        started = time.perf_counter()
        for i, number in enumerate(numbers):
            with db.transaction() as session:
                topups.top_up(session, principal="bench", idempotency_key=f"raw-{i}", msisdn=number,
                              offer_id=OFFER, channel="api", now=due_at)
        raw = time.perf_counter() - started
    db.dispose()
    report("autorenew_pg_lines", n, "lines")
    report("autorenew_pg_sweep_s", round(sweep, 1), "s")
    report("autorenew_pg_lines_per_s", round(n / sweep), "lines/s")
    report("autorenew_pg_topup_per_s", round(n / raw), "top-ups/s")
    report("autorenew_pg_ratio", round(raw / sweep, 2), "x")


def _enrol(db: Database, n: int) -> tuple[list[str], datetime]:
    """N lines made at T0 (so one validity end), each with a saved sandbox card and auto-renew on, 3 days before."""
    started = time.perf_counter()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=T0)
    numbers = [f"+3361{i:07d}" for i in range(n)]
    end = None
    for chunk in range(0, n, 2000):
        methods, settings = [], []
        with db.transaction() as session:
            for number in numbers[chunk:chunk + 2000]:
                line = lines.create_line(session, msisdn=number, operator_id=OPERATOR, language="fr", now=T0)
                end = line.validity_ends_at
                method_id = new_id()
                methods.append(dict(id=method_id, line_id=line.id, provider="sandbox", method="card",
                                    customer_ref=None, method_ref=f"pm_sbx_visa_{method_id.hex[:16]}",
                                    label="Visa •••• 4242", created_at=T0, removed_at=None))
                settings.append(dict(line_id=line.id, offer_id=OFFER, mode="before_end", days_before=3,
                                     method_id=method_id, enabled=True, changed_by="bench", changed_at=T0,
                                     created_at=T0))
            session.execute(insert(SavedMethod.__table__), methods)
            session.execute(insert(AutoRenewSetting.__table__), settings)
    note(f"autorenew: {n} lines enrolled in {time.perf_counter() - started:.0f} s")
    assert end is not None
    return numbers, end - timedelta(days=2)


def _check(db: Database, n: int) -> None:
    from sqlalchemy import func, select

    with db.transaction(write=False) as session:
        charges = session.scalar(select(func.count()).select_from(AutoRenewCharge))
        credited = session.scalar(select(func.count()).select_from(TopUp).where(TopUp.channel == "auto_renew"))
    assert charges == credited == n, (charges, credited)
