"""Helpers shared by the voucher and reseller API tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from simkeep.auth import service as auth
from simkeep.voucher.models import Voucher, VoucherFailure

MSISDN = "+33612345678"


def redeem_body(pin: str, msisdn: str = MSISDN) -> dict:
    return {"msisdn": msisdn, "pin": pin}


def post_redeem(client, pin: str, key: str = "r1", msisdn: str = MSISDN, headers: dict | None = None):
    return client.post("/api/v1/vouchers/redeem", json=redeem_body(pin, msisdn),
                       headers={"Idempotency-Key": key, **(headers or {})})


def api_key(db, settings, *, role: str = "reseller", reseller_id=None) -> dict:
    """An Authorization header for a new API key."""
    with db.transaction() as session:
        _row, plaintext = auth.create_api_key(session, name=f"test {role}", role=role, secret=settings.key("api_key"),
                                              now=datetime.now(UTC), reseller_id=reseller_id)
    return {"Authorization": f"Bearer {plaintext}"}


def states(db) -> dict[int, str]:
    with db.transaction(write=False) as session:
        return dict(session.execute(select(Voucher.serial, Voucher.state)).all())


def failure_reasons(db) -> list[str]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(VoucherFailure.reason).order_by(VoucherFailure.at, VoucherFailure.id)))


def failures(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(VoucherFailure))
