"""Making cards fast without giving anything up: PINs uniform from the CSPRNG with a right check digit, no two cards
with one PIN (a hash taken already is drawn again), every column written on both databases."""

from __future__ import annotations

import struct

from sqlalchemy import select

from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import Voucher
from tests.conftest import T0
from tests.factories.vouchers import KEYS, make_batch, make_reseller


def test_bulk_pins_carry_the_check_digit_the_slow_way_computes():
    made = pins.new_pins(20_000)
    assert len(made) == 20_000 and pins.new_pins(0) == []
    for pin in made:
        assert len(pin) == 15 and pin.isdigit() and pin[-1] == pins.check_digit(pin[:-1])
        assert pins.normalize(pins.grouped(pin)) == pin
    assert len(set(made)) == 20_000
    assert {pin[0] for pin in made} == set("0123456789")  # leading zeros kept: 14 digits, all of them random


def test_a_draw_that_would_bias_the_digits_is_drawn_again(monkeypatch):
    top = (1 << 64) - 1  # above the largest multiple of 10^14 under 2^64: taking it modulo 10^14 would favour low PINs
    draws = [struct.pack("=QQ", top, 5), struct.pack("=Q", 10**14 + 7)]
    monkeypatch.setattr("simkeep.voucher.pins.secrets.token_bytes", lambda n: draws.pop(0))
    body5, body7 = "00000000000005", "00000000000007"
    assert pins.new_pins(2) == [body5 + pins.check_digit(body5), body7 + pins.check_digit(body7)]


def test_a_pin_whose_hash_a_card_has_is_never_given_twice(db, monkeypatch):
    _batch, earlier = make_batch(db, quantity=2, now=T0)
    taken = earlier[0][1]
    twin = pins.new_pin()
    scripted = [[taken, twin, twin, pins.new_pin()]]  # a PIN in use already, and the same PIN twice in one chunk
    real = pins.new_pins
    monkeypatch.setattr("simkeep.voucher.pins.new_pins", lambda n: scripted.pop(0) if scripted else real(n))
    batch, cards = make_batch(db, quantity=4, now=T0)
    assert [serial for serial, _pin in cards] == list(range(batch.serial_from, batch.serial_from + 4))
    assert cards[1][1] == twin and cards[0][1] != taken and cards[2][1] != twin
    with db.transaction(write=False) as session:
        hashes = dict(session.execute(select(Voucher.serial, Voucher.pin_hash)).all())
    assert len(hashes) == 6 and len(set(hashes.values())) == 6
    assert all(hashes[serial] == KEYS.hash(pin) for serial, pin in earlier + cards)


def test_e_pins_are_written_with_their_reseller_purchase_and_sale(db):
    reseller = make_reseller(db, now=T0)
    with db.transaction() as session:
        bought = vouchers.buy_epins(session, reseller=reseller, principal="key:1", idempotency_key="k1",
                                    offer_id="fr-orange-mobicarte-10", quantity=3, keys=KEYS, now=T0)
    with db.transaction(write=False) as session:
        cards = session.scalars(select(Voucher).order_by(Voucher.serial)).all()
    assert [(c.serial, c.pin_hash) for c in cards] == [(serial, KEYS.hash(pin)) for serial, pin in bought.cards]
    assert {(c.state, c.reseller_id, c.purchase_id, c.sold_at, c.expires_at) for c in cards} == {
        ("active", reseller.id, bought.purchase.id, T0, bought.expires_at)}
