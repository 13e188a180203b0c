"""The demo's reseller and recharge cards (`make run`): made once, sold to DEMO-TABAC, PINs in the data directory,
nothing more on a second run, a card redeemable in the portal."""

from __future__ import annotations

import csv
import stat

from sqlalchemy import select

from simkeep.config import Settings
from simkeep.demo import VOUCHERS_FILE, seed_demo_vouchers
from simkeep.reseller import service as resellers
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import Voucher
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import KEYS, redeem


def cards_in(path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))[1:]


def test_the_demo_cards_are_made_once_and_redeem_in_the_portal(db, settings, tmp_path, monkeypatch):
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0)
    settings = settings.model_copy(update={"data_dir": tmp_path / "var"})
    first = seed_demo_vouchers(db, settings)
    path = settings.data_dir / VOUCHERS_FILE
    assert first is not None and (first.file, first.made_now, first.reseller) == (path, True, "DEMO-TABAC")
    assert first.float_left.format() == "€310.00"  # 500.00 deposited, 20 × 10.00 bought at 5 % off
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in settings.data_dir.iterdir()) == [VOUCHERS_FILE]
    rows = cards_in(path)
    assert [int(r[0]) for r in rows] == list(range(first.batch.serial_from, first.batch.serial_from + 20))
    with db.transaction(write=False) as session:
        hashes = dict(session.execute(select(Voucher.serial, Voucher.pin_hash)).all())
        states = set(session.scalars(select(Voucher.state)))
        reseller = resellers.by_code(session, "DEMO-TABAC")
        assert (reseller.discount_bp, reseller.name) == (500, "Tabac de démonstration (demo data)")
    assert states == {"active"}
    assert all(KEYS.hash(pin) == hashes[int(serial)] for serial, pin, *_ in rows)
    assert {(r[3], r[4], r[5]) for r in rows} == {("fr-orange-mobicarte-10", "10.00", "EUR")}
    content = path.read_bytes()

    before = snapshot(db)
    again = seed_demo_vouchers(db, settings)
    assert again is not None and (again.batch.id, again.made_now, again.file) == (first.batch.id, False, path)
    assert again.float_left.format() == "€310.00"
    assert snapshot(db) == before and path.read_bytes() == content

    path.unlink()  # the newcomer deleted it: the PINs are gone, and no second batch appears
    gone = seed_demo_vouchers(db, settings)
    assert gone is not None and (gone.batch.id, gone.file) == (first.batch.id, None)
    assert snapshot(db) == before and not path.exists()

    make_line(db, now=T0)  # the demo line +33612345678 is an Orange Mobicarte
    balance = view(db).balance.minor
    assert redeem(db, pin=rows[3][2], via="portal", now=T0).outcome().topup.price_minor == 1000
    assert view(db).balance.minor == balance + 1000
    with db.transaction(write=False) as session:
        assert vouchers.reconcile(session) == []


def test_without_voucher_keys_the_demo_makes_no_cards(db, tmp_path):
    before = snapshot(db)
    assert seed_demo_vouchers(db, Settings(database_url=db.url, data_dir=tmp_path / "var")) is None
    assert snapshot(db) == before and not (tmp_path / "var").exists()


def test_simkeep_demo_says_where_the_pins_are(cli, db, tmp_path):
    out = cli("demo")
    path = tmp_path / VOUCHERS_FILE
    assert "demo: 5 lines ready" in out
    assert "demo reseller DEMO-TABAC (float €310.00) bought 20 recharge cards of fr-orange-mobicarte-10, serials " \
           "100000000001-100000000020" in out
    assert f"demo recharge card PINs (to redeem in the portal): {path}" in out
    content = path.read_bytes()
    assert pins.normalize(cards_in(path)[0][1]) is not None
    again = cli("demo")
    assert f"demo recharge card PINs (to redeem in the portal): {path}" in again and path.read_bytes() == content
