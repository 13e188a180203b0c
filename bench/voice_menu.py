"""The voice menu's dialogue without a transport: what one turn costs the process that answers a call.

1. Menu turns (`Menu.handle`, the balance asked for on a call already in the menu: the call's row locked, the
   line's view, the prompts assembled, the state and the turn log written) against the raw baseline of the same
   record-keeping with nothing else (lock the call's row, update its state, insert the turn), one transaction
   each, both measured in this run on the same database.
2. Card renewals by keypad (`Menu.handle` with the PIN: the redemption, its receipt and the call's state in one
   transaction) against the raw baseline of `voucher.service.redeem` alone, one transaction each.

Figures: turns (renewals) per second on one thread and the ratio to the baseline; a call holds a few turns a
minute, so a thread's turns per second bounds how many calls one process can serve, whatever carries them."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from bench.common import OUT, Sizes, drop_database, pg_url, recreate_database, report
from simkeep.config import Settings
from simkeep.core.ids import new_id
from simkeep.db import Database
from simkeep.voice.flow import SIP, Call, Digits
from simkeep.voice.menu import Menu
from simkeep.voice.models import VoiceCall, VoiceTurn

OFFER = "fr-orange-mobicarte-10"
PG_DB = "simkeep_bench_voice_menu"
SECRETS = dict(secret_key="bench-secret-0123456789abcdef0123456789abcdef",
               voucher_pepper="bench-pepper-0123456789abcdef0123456789abcdef",
               voucher_seal_key="bench-seal-0123456789abcdef0123456789abcdef")


def bench_voice_menu_sqlite(sizes: Sizes) -> None:
    folder = OUT / "voice_menu"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        _run(f"sqlite:///{folder / 'voice.db'}", sizes, "voice_menu_sqlite")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_voice_menu_pg(sizes: Sizes) -> None:
    recreate_database(PG_DB)
    try:
        _run(pg_url(PG_DB), sizes, "voice_menu_pg")
    finally:
        drop_database(PG_DB)


def _run(url: str, sizes: Sizes, name: str) -> None:
    n = min(500, max(100, sizes.topup_lines // 10))  # 2n cards: one sale of at most 1,000 needs no second person
    db, settings, now = _prepare(url, n)
    menu = Menu(db, settings, now=lambda: now)
    numbers = [_number(i) for i in range(n)]
    for i, number in enumerate(numbers):  # each line's first call chooses French: later calls open on the menu
        menu.start(Call(f"first-{i}", number, "+33170000000", SIP))
        menu.handle(f"first-{i}", Digits("2"))
    for i, number in enumerate(numbers):
        menu.start(Call(f"call-{i}", number, "+33170000000", SIP))

    started = time.perf_counter()
    for i in range(n):
        menu.handle(f"call-{i}", Digits("1"))
    turns = n / (time.perf_counter() - started)
    raw = _raw_turns(db, [f"call-{i}" for i in range(n)], now)
    report(f"{name}_balance_turns", round(turns), "per_s")
    report(f"{name}_raw_turn_records", round(raw), "per_s")
    report(f"{name}_turn_ratio", round(turns / raw, 2), "x")

    cards = _cards(db, settings, 2 * n, now)
    for i in range(n):
        menu.handle(f"call-{i}", Digits("2"))
    started = time.perf_counter()
    for i in range(n):
        menu.handle(f"call-{i}", Digits(cards[i]))
    renewals = n / (time.perf_counter() - started)
    redeems = _raw_redeems(db, settings, numbers, cards[n:], now)
    report(f"{name}_card_renewals", round(renewals), "per_s")
    report(f"{name}_raw_redeems", round(redeems), "per_s")
    report(f"{name}_renewal_ratio", round(renewals / redeems, 2), "x")
    db.dispose()


def _number(i: int) -> str:
    return f"+336{20_000_000 + i:08d}"


def _prepare(url: str, n: int) -> tuple[Database, Settings, datetime]:
    from simkeep.catalog import service as catalog
    from simkeep.line import service as lines
    from simkeep.migrate import upgrade

    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        for i in range(n):
            lines.create_line(session, msisdn=_number(i), operator_id="fr-orange-mobicarte", language="fr", now=now)
    return db, Settings(database_url=url, **SECRETS), now


def _cards(db: Database, settings: Settings, quantity: int, now: datetime) -> list[str]:
    """A printed batch sold whole to a reseller: PINs ready to redeem."""
    from simkeep.core.money import Money
    from simkeep.reseller import service as resellers
    from simkeep.voucher import pins
    from simkeep.voucher import service as vouchers

    made: list[tuple[int, str]] = []
    with db.transaction() as session:
        reseller = resellers.create(session, code="BENCH", name="Bench", currency="EUR", discount_bp=500,
                                    actor="bench", reason="bench", now=now)
        resellers.deposit(session, reseller=reseller, amount=Money(10_000 * quantity, "EUR"), reference="bench",
                          actor="bench", reason="bench", now=now)
        batch = vouchers.create_batch(session, offer_id=OFFER, quantity=quantity, expires_at=now + timedelta(days=365),
                                      actor="bench", reason="bench", keys=pins.keys(settings), now=now,
                                      sink=made.extend)
        vouchers.request_action(session, action=vouchers.SELL, serial_from=batch.serial_from,
                                serial_to=batch.serial_to, actor="bench", reason="bench", reseller_code="BENCH",
                                now=now)
    return [pin for _, pin in made]


def _raw_turns(db: Database, call_ids: list[str], now: datetime) -> float:
    """The record-keeping of a turn and nothing else: the call's row locked, its state updated, one turn row."""
    calls, turns = VoiceCall.__table__, VoiceTurn.__table__
    started = time.perf_counter()
    for call_id in call_ids:
        with db.transaction() as session:
            row = session.execute(select(calls.c.id, calls.c.turns, calls.c.state).where(
                calls.c.call_id == call_id).with_for_update()).one()
            session.execute(update(calls).where(calls.c.id == row.id).values(
                state={**row.state, "invalid": 0}, turns=row.turns + 1, updated_at=now))
            session.execute(insert(turns), [dict(id=new_id(), call_id=row.id, seq=row.turns + 1, step="menu",
                                                 input="1", prompts=["fr/balance_is"], then="gather", at=now)])
    return len(call_ids) / (time.perf_counter() - started)


def _raw_redeems(db: Database, settings: Settings, numbers: list[str], cards: list[str], now: datetime) -> float:
    from simkeep.voucher import pins
    from simkeep.voucher import service as vouchers

    keys = pins.keys(settings)
    started = time.perf_counter()
    for i, (number, pin) in enumerate(zip(numbers, cards, strict=True)):
        with db.transaction() as session:
            vouchers.redeem(session, msisdn=number, pin=pin, via="ivr", principal="bench", idempotency_key=f"raw{i}",
                            client="bench", keys=keys, now=now)
    return len(numbers) / (time.perf_counter() - started)
