"""Counter tablets (store.devices), the PIN rules (staff.pins) and the ID-check retention purge (store.tasks)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from simkeep.audit.models import AuditEntry
from simkeep.config import Settings
from simkeep.core.ids import new_id
from simkeep.staff import pins
from simkeep.store import devices
from simkeep.store import service as stores
from simkeep.store.models import CounterDevice, IdCheck, Store
from simkeep.store.tasks import purge_id_checks
from tests.conftest import T0, TEST_SECRET
from tests.factories.counter import make_store_person, register_tablet
from tests.factories.lines import make_line
from tests.factories.stores import make_store


def count(db, model) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_tablet_keeps_only_the_hmac_of_its_token_and_the_token_opens_it(db, settings):
    store = make_store(db, now=T0)
    device, token = register_tablet(db, settings, store, name="Counter 1", now=T0, by="staff:mia")
    key = settings.key("counter_device")
    assert device.token_hash == hmac.new(key.encode(), token.encode(), hashlib.sha256).hexdigest()
    assert token not in device.token_hash and len(token) == 43
    with db.transaction(write=False) as session:
        tablet = devices.by_token(session, token=token, keys=settings.verifying_keys("counter_device"))
        assert (tablet.device.id, tablet.store.id) == (device.id, store.id)
        for wrong in (None, "", token[:-1], "x" * 10_000, token + "\x00", "é" * 43):
            assert devices.by_token(session, token=wrong, keys=[key]) is None


def test_a_token_made_under_the_previous_secret_still_opens_its_tablet(db, settings):
    store = make_store(db, now=T0)
    device, token = register_tablet(db, settings, store, now=T0)
    rotated = settings.model_copy(update={"secret_key": "another-secret-key-0123456789abcdef0123456789",
                                          "previous_secret_keys": [TEST_SECRET]})
    with db.transaction(write=False) as session:
        assert devices.by_token(session, token=token, keys=rotated.verifying_keys("counter_device")).device.id == \
            device.id
        assert devices.by_token(session, token=token, keys=[rotated.key("counter_device")]) is None


def test_revoked_tablets_and_closed_stores_open_nothing_and_a_second_revoke_changes_nothing(db, settings):
    store = make_store(db, now=T0)
    device, token = register_tablet(db, settings, store, now=T0)
    second, second_token = register_tablet(db, settings, store, name="Counter 2", now=T0)
    keys = settings.verifying_keys("counter_device")
    with db.transaction() as session:
        assert devices.revoke(session, device_id=device.id, store_id=store.id, by="staff:mia",
                              now=T0 + timedelta(hours=1))
    with db.transaction() as session:
        assert not devices.revoke(session, device_id=device.id, store_id=store.id, by="staff:mia",
                                  now=T0 + timedelta(hours=2))
        assert devices.by_token(session, token=token, keys=keys) is None
        assert not devices.live(session, device.id, store_id=store.id)
        assert devices.live(session, second.id, store_id=store.id)
        assert [d.name for d in devices.of_store(session, store.id)] == ["Counter 2", "Counter 1"]
        session.get(Store, store.id).closed_at = T0
    with db.transaction(write=False) as session:
        assert devices.by_token(session, token=second_token, keys=keys) is None
        reasons = session.scalars(select(AuditEntry.reason).where(AuditEntry.action == "store.device_revoked")).all()
    assert reasons == ["counter tablet Counter 1 revoked"]
    with db.transaction(write=False) as session:
        assert session.get(CounterDevice, device.id).revoked_at == T0 + timedelta(hours=1)


def test_bad_names_other_stores_and_closed_stores_change_nothing(db, settings):
    store = make_store(db, now=T0)
    other = make_store(db, now=T0, code="PAR-CHINATOWN", name="Chinatown Mobile", latitude=48.83, longitude=2.36)
    theirs, _ = register_tablet(db, settings, other, now=T0)
    key = settings.key("counter_device")
    for name in ("", "   ", "x" * 61, "tab\x00let"):
        with pytest.raises(devices.DeviceNameInvalid), db.transaction() as session:
            devices.register(session, store_id=store.id, name=name, by="staff:mia", key=key, now=T0)
    with pytest.raises(stores.OtherStore), db.transaction() as session:
        devices.revoke(session, device_id=theirs.id, store_id=store.id, by="staff:mia", now=T0)
    with pytest.raises(devices.DeviceNotFound), db.transaction() as session:
        devices.revoke(session, device_id=new_id(), store_id=store.id, by="staff:mia", now=T0)
    with db.transaction() as session:
        session.get(Store, store.id).closed_at = T0
    with pytest.raises(stores.StoreClosed), db.transaction() as session:
        devices.register(session, store_id=store.id, name="Counter 9", by="staff:mia", key=key, now=T0)
    assert count(db, CounterDevice) == 1
    with db.transaction(write=False) as session:
        assert session.get(CounterDevice, theirs.id).revoked_at is None
        assert session.scalars(select(AuditEntry.action)).all() == ["store.device_registered"]


@pytest.mark.parametrize("pin", ["0000", "1111", "1234", "4321", "0123", "9876", "12345678", "1212", "123123",
                                 "121212", "123", "123456789", "12a4", "", " ", "１２３４", "٠١٢٩"])
def test_easy_or_malformed_pins_are_refused(pin):
    with pytest.raises(pins.WeakPin):
        pins.check_pin(pin)


@pytest.mark.parametrize("pin", ["2580", "1357", "0429", "73519", "20261130", " 4826 "])
def test_other_pins_of_four_to_eight_digits_are_accepted(pin):
    assert pins.check_pin(pin) == pin.strip()


def test_generated_pins_are_six_digits_and_never_easy():
    made = {pins.generate_pin() for _ in range(300)}
    assert all(len(p) == 6 and p.isdigit() and not pins.trivial(p) for p in made) and len(made) > 250


def test_signin_tiles_are_the_stores_enabled_people_with_a_pin(db, settings):
    store = make_store(db, now=T0)
    other = make_store(db, now=T0, code="PAR-CHINATOWN", name="Chinatown Mobile", latitude=48.83, longitude=2.36)
    make_store_person(db, settings, store, username="li", now=T0)
    make_store_person(db, settings, store, username="mia", role="store_manager", now=T0)
    make_store_person(db, settings, store, username="nopin", pin=None, now=T0)
    make_store_person(db, settings, other, username="wu", now=T0)
    with db.transaction(write=False) as session:
        assert [a.username for a in devices.signin_tiles(session, store.id)] == ["li", "mia"]


# -- the ID-check retention purge -----------------------------------------------------------------------------------

def add_checks(db, store: Store, line_id, instants) -> list:
    rows = [dict(id=new_id(), store_id=store.id, line_id=line_id, document_type="passport", issuing_country="CN",
                 last4="1234", checked_by="staff:li", checked_at=at) for at in instants]
    with db.transaction() as session:
        session.execute(insert(IdCheck.__table__), rows)
    return [r["id"] for r in rows]


def remaining(db) -> set:
    with db.transaction(write=False) as session:
        return set(session.scalars(select(IdCheck.id)))


def test_the_purge_deletes_exactly_the_checks_older_than_the_retention_period(db, settings):
    store = make_store(db, now=T0)
    line = make_line(db, now=T0)
    now = T0 + timedelta(days=100)
    cutoff = now - timedelta(days=30)
    old = add_checks(db, store, line.id, [T0, cutoff - timedelta(days=1), cutoff - timedelta(microseconds=1)])
    kept = add_checks(db, store, line.id, [cutoff, cutoff + timedelta(microseconds=1), now - timedelta(hours=1), now])
    assert purge_id_checks(db, settings, now) == 3
    assert remaining(db) == set(kept) and not set(old) & remaining(db)
    assert purge_id_checks(db, settings, now) == 0 and remaining(db) == set(kept)


def test_the_purge_works_in_bounded_batches_and_follows_the_setting(db, settings):
    store = make_store(db, now=T0)
    line = make_line(db, now=T0)
    now = T0 + timedelta(days=10)
    old = add_checks(db, store, line.id, [T0 + timedelta(minutes=n) for n in range(7)])
    kept = add_checks(db, store, line.id, [now - timedelta(days=2)])
    assert purge_id_checks(db, settings, now, batch=3) == 0  # 30 days by default: nothing is old enough
    short: Settings = settings.model_copy(update={"id_check_retention_days": 7})
    assert purge_id_checks(db, short, now, batch=3) == 7
    assert remaining(db) == set(kept) and len(old) == 7


def test_demo_counter_staff_work_at_a_demo_paris_store_and_keep_their_secrets(db, settings):
    from simkeep.staff import service
    from simkeep.store.demo_staff import FILE, seed_counter_staff

    assert seed_counter_staff(db, settings, T0) == []  # no demo store yet
    make_store(db, now=T0, demo=True, code="DEMO-PARIS-13", name="Démo Paris 13 (demo data)")
    first = seed_counter_staff(db, settings, T0)
    assert [(p.username, p.role, p.store_code) for p in first] == [
        ("demo-manager", "store_manager", "DEMO-PARIS-13"), ("demo-agent", "agent", "DEMO-PARIS-13")]
    assert oct((settings.data_dir / FILE).stat().st_mode & 0o777) == "0o600"
    again = seed_counter_staff(db, settings, T0)
    assert again == first
    with db.transaction(write=False) as session:
        for person in again:
            account = service.for_signin(session, person.username)
            assert service.verify_password(account.password_hash, person.password)
            assert service.verify_password(account.pin_hash, person.pin) and not pins.trivial(person.pin)
