"""Demo data for `make run`: a few lines of different operators, topped up; a demo reseller and a small batch of
Orange recharge cards sold to it, whose PINs are written once to the data directory so that a newcomer can redeem
one in the portal. (The demo's secrets, its admin token and voucher keys among them, are generated and kept by
simkeep.config.with_demo_secrets.) Every step is idempotent: a second `make run` adds nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import NumberUnavailable, ResellerNotFound, VouchersNotConfigured
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.reseller import service as resellers
from simkeep.topup import service as topups
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.cardfile import CardFile
from simkeep.voucher.models import VoucherBatch
from simkeep.voucher.service import Card

DEMO_LINES = [
    ("+33612345678", "fr-orange-mobicarte", "zh_CN", "fr-orange-mobicarte-10"),
    ("+33698765432", "fr-sfr-la-carte", "fr", "fr-sfr-la-carte-25"),
    ("+33756123456", "fr-free-2eur", "en", "fr-free-2eur-month"),
    ("+85251234567", "hk-shinetown-huamei", "zh_CN", "hk-shinetown-huamei-50"),
    ("+8613800138000", "cn-cmcc-8yuan", "zh_CN", "cn-cmcc-8yuan-month"),
]

DEMO_ACTOR = "demo"
DEMO_RESELLER = "DEMO-TABAC"
DEMO_RESELLER_NAME = "Tabac de démonstration (demo data)"
DEMO_DISCOUNT_BP = 500  # 5 %
DEMO_FLOAT = Money(50_000, "EUR")  # 500.00 EUR, deposited once (reference demo-float)
DEMO_VOUCHER_OFFER = "fr-orange-mobicarte-10"
DEMO_CARDS = 20
VOUCHERS_FILE = "demo-vouchers.csv"


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
    seed_demo_stores(db)
    return len(DEMO_LINES)


def seed_demo_stores(db: Database) -> int:
    """The demo's store directory (store/demo_stores.csv, every store marked demo): upserted by code, so a second
    run changes nothing. How many stores it holds."""
    from simkeep.store.demo import seed_stores

    with db.transaction() as session:
        result = seed_stores(session, now=clock.now())
    return len(result.created) + len(result.updated) + len(result.unchanged)


@dataclass(frozen=True)
class DemoVouchers:
    reseller: str
    float_left: Money
    batch: VoucherBatch
    file: Path | None  # None: the file was deleted since the batch was made (its PINs are gone for good)
    made_now: bool


def seed_demo_vouchers(db: Database, settings: Settings) -> DemoVouchers | None:
    """DEMO-TABAC (5 % discount, 500.00 EUR deposited) and, once, a batch of 20 Orange Mobicarte 10 EUR cards sold
    to it, whose PINs go to $SIMKEEP_DATA_DIR/demo-vouchers.csv. None if vouchers are not configured (no pepper)."""
    try:
        keys = pins.keys(settings)
    except VouchersNotConfigured:
        return None
    now = clock.now()
    with db.transaction() as session:
        try:
            reseller = resellers.by_code(session, DEMO_RESELLER)
        except ResellerNotFound:
            reseller = resellers.create(session, code=DEMO_RESELLER, name=DEMO_RESELLER_NAME, currency="EUR",
                                        discount_bp=DEMO_DISCOUNT_BP, actor=DEMO_ACTOR, reason="demo data", now=now)
        resellers.deposit(session, reseller=reseller, amount=DEMO_FLOAT, reference="demo-float", actor=DEMO_ACTOR,
                          reason="demo data: the demo reseller's float", now=now)
        made = vouchers.list_batches(session, limit=1, created_by=DEMO_ACTOR)
    path = settings.data_dir / VOUCHERS_FILE
    if made:
        return DemoVouchers(DEMO_RESELLER, _float(db, reseller), made[0], path if path.exists() else None, False)
    path.unlink(missing_ok=True)  # a file left from another database: its cards do not exist here
    with CardFile(settings.data_dir) as out:
        with db.transaction() as session:
            batch = _make_and_sell(session, out, keys, now=now)
            out.sync()
        out.committed()
        out.publish()
    return DemoVouchers(DEMO_RESELLER, _float(db, reseller), batch, path, True)


def _make_and_sell(session, out: CardFile, keys: pins.Keys, *, now) -> VoucherBatch:
    operator = catalog.get_operator(session, catalog.operator_of_offer(session, DEMO_VOUCHER_OFFER))
    made: list[VoucherBatch] = []

    def sink(cards: list[Card]) -> None:
        if not made:
            made.append(vouchers.lookup(session, cards[0][0]).batch)
            out.open(VOUCHERS_FILE)
        out.write(made[0], cards, timezone=operator.timezone)

    expires_at = vouchers.expiry_after(session, offer_id=DEMO_VOUCHER_OFFER,
                                       last_day=(now + timedelta(days=365)).date())
    batch = vouchers.create_batch(session, offer_id=DEMO_VOUCHER_OFFER, quantity=DEMO_CARDS, expires_at=expires_at,
                                  actor=DEMO_ACTOR, reason="demo data: cards to try in the portal", keys=keys,
                                  now=now, sink=sink)
    vouchers.request_action(session, action=vouchers.SELL, serial_from=batch.serial_from, serial_to=batch.serial_to,
                            actor=DEMO_ACTOR, reason="demo data: sold to the demo reseller",
                            reseller_code=DEMO_RESELLER, now=now)
    return batch


def _float(db: Database, reseller) -> Money:
    return db.read(lambda session: resellers.float_balance(session, reseller))
