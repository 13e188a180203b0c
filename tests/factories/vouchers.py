"""Vouchers and resellers made through their services, each in its own committed transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from simkeep.config import Settings
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.reseller import service as resellers
from simkeep.reseller.models import Reseller
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import VoucherBatch
from simkeep.voucher.service import Card, Redemption
from tests.conftest import VOUCHER_PEPPER, VOUCHER_SEAL_KEY

KEYS = pins.keys(Settings(voucher_pepper=VOUCHER_PEPPER, voucher_seal_key=VOUCHER_SEAL_KEY))
OFFER = "fr-orange-mobicarte-10"  # 10.00 EUR
_keys = count(1)


def make_reseller(db: Database, *, code: str = "TABAC-RIVOLI", discount_bp: int = 500, deposit_minor: int = 100_000,
                  now: datetime) -> Reseller:
    with db.transaction() as session:
        reseller = resellers.create(session, code=code, name=f"{code} (test)", currency="EUR",
                                    discount_bp=discount_bp, actor="staff:alice", reason="new reseller", now=now)
        if deposit_minor:
            resellers.deposit(session, reseller=reseller, amount=Money(deposit_minor, "EUR"),
                              reference=f"dep-{next(_keys)}", actor="staff:alice", reason="bank transfer", now=now)
        return reseller


def make_batch(db: Database, *, quantity: int = 10, offer_id: str = OFFER, now: datetime,
               expires_in: timedelta = timedelta(days=365)) -> tuple[VoucherBatch, list[Card]]:
    """A printed batch whose PINs the test keeps (as the card printer would)."""
    cards: list[Card] = []
    with db.transaction() as session:
        batch = vouchers.create_batch(session, offer_id=offer_id, quantity=quantity, expires_at=now + expires_in,
                                      actor="staff:alice", reason="print run", keys=KEYS, now=now, sink=cards.extend)
    return batch, cards


def sell(db: Database, *, serial_from: int, serial_to: int, reseller: str = "TABAC-RIVOLI", now: datetime):
    with db.transaction() as session:
        return vouchers.request_action(session, action=vouchers.SELL, serial_from=serial_from, serial_to=serial_to,
                                       actor="staff:alice", reason="box sold", reseller_code=reseller, now=now)


def sold_cards(db: Database, *, quantity: int = 10, reseller: str = "TABAC-RIVOLI", now: datetime) -> list[Card]:
    """A batch made and sold whole to `reseller` (which must exist): cards ready to redeem."""
    batch, cards = make_batch(db, quantity=quantity, now=now)
    sell(db, serial_from=batch.serial_from, serial_to=batch.serial_to, reseller=reseller, now=now)
    return cards


def redeem(db: Database, *, pin: str, msisdn: str = "+33612345678", key: str | None = None, via: str = "api",
           principal: str = "test", now: datetime) -> Redemption:
    with db.transaction() as session:
        return vouchers.redeem(session, msisdn=msisdn, pin=pin, via=via, principal=principal,
                               idempotency_key=key or f"r{next(_keys)}", client="127.0.0.1", keys=KEYS, now=now)
