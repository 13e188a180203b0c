"""The worker's voucher job: batches past their date are expired on schedule, once, and it is logged."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from structlog.testing import capture_logs

from simkeep.ledger import service as ledger
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import Voucher, VoucherBatch
from simkeep.worker import make_jobs, run_round
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.vouchers import make_batch, make_reseller, redeem, sell


def test_the_worker_expires_due_batches_once_and_logs_it(db, settings, monkeypatch):
    now = [T0]
    monkeypatch.setattr("simkeep.core.clock.now", lambda: now[0])
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    due, cards = make_batch(db, quantity=3, now=T0, expires_in=timedelta(days=10))
    later, _ = make_batch(db, quantity=2, now=T0, expires_in=timedelta(days=20))
    sell(db, serial_from=due.serial_from, serial_to=due.serial_to, now=T0)
    redeem(db, pin=cards[0][1], now=T0)
    jobs = make_jobs(db, None, settings, stopping=lambda: False)
    [job] = [j for j in jobs if j.name == "expire_vouchers"]
    assert (job.every, job.rests) == (settings.sweep_interval_seconds, True)

    with capture_logs() as logs:
        assert job.run() == 0  # nothing due yet
        now[0] = T0 + timedelta(days=10)
        assert job.run() == 1
        assert job.run() == 0  # done already: nothing twice
    assert [(e["event"], e["batches"]) for e in logs if e["event"] == "vouchers.expired"] == [("vouchers.expired", 1)]
    with db.transaction(write=False) as session:
        assert list(session.scalars(select(Voucher.state).order_by(Voucher.serial))) == [
            "redeemed", "expired", "expired", "generated", "generated"]
        assert [b.expired_at for b in session.scalars(select(VoucherBatch).order_by(VoucherBatch.serial_from))] == [
            T0 + timedelta(days=10), None]
        breakage = ledger.account_balance(session, ledger.system_account_id(ledger.BREAKAGE, "EUR"))
        assert breakage == 2000  # the two sold cards nobody redeemed
        assert ledger.verify(session).ok and vouchers.reconcile(session) == []

    # In the worker's round, with the others: the later batch when its day comes.
    now[0] = T0 + timedelta(days=20)
    for other in jobs:
        if other.name not in ("expire_vouchers",):
            other.next_at = float("inf")
    job.next_at = 0
    assert run_round(jobs, settings=settings, stopping=lambda: False) == (0, 0)  # periodic jobs rest the worker
    with db.transaction(write=False) as session:
        assert session.get(VoucherBatch, later.id).expired_at == T0 + timedelta(days=20)
