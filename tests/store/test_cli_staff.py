"""`simkeep store staff ...`, `simkeep store device ...` and `simkeep store purge-id-checks`."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from simkeep.audit.models import AuditEntry
from simkeep.cli import app as cli_app
from simkeep.core import clock
from simkeep.core.ids import new_id
from simkeep.staff import service
from simkeep.staff.models import StaffAccount
from simkeep.store.models import CounterDevice, IdCheck, Store
from tests.conftest import T0
from tests.factories.counter import make_store_person, register_tablet
from tests.factories.lines import make_line
from tests.factories.staff import make_staff
from tests.factories.stores import make_store


def account(db, username: str) -> StaffAccount | None:
    with db.transaction(write=False) as session:
        return session.scalars(select(StaffAccount).where(StaffAccount.username == username)).first()


def audits(db) -> list[tuple]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)).all()
    return [(r.actor, r.action, r.reason) for r in rows]


def typed(args: list[str], text: str, code: int = 0) -> str:
    """A command that prompts, answered with `text` (the `cli` fixture has set the environment)."""
    result = CliRunner().invoke(cli_app, args, input=text)
    assert result.exit_code == code, result.output
    return result.output


def test_an_admin_adds_a_stores_agent_with_a_one_time_password(cli, db, settings):
    make_staff(db, settings, username="ada", role="admin")
    store = make_store(db, now=T0)
    out = cli("store", "staff", "add", "par-belleville", "Li", "--role", "agent", "--as", "ada")
    assert "agent account li created for store PAR-BELLEVILLE (Tabac de Belleville)." in out
    password = out.strip().splitlines()[-1]
    li = account(db, "li")
    assert (li.role, li.store_id, li.must_change_password, li.pin_hash) == ("agent", store.id, True, None)
    assert service.verify_password(li.password_hash, password) and len(password) == 20
    assert audits(db)[-1] == ("staff:ada", "staff.created", "created with role agent")
    cli("store", "staff", "add", "PAR-BELLEVILLE", "mia", "--role", "store_manager", "--as", "ada")
    assert account(db, "mia").store_id == store.id


def test_adding_store_staff_is_refused_without_an_admin_a_store_or_a_store_role(cli, db, settings):
    make_staff(db, settings, username="ada", role="admin")
    make_staff(db, settings, username="sam", role="support")
    store = make_store(db, now=T0)
    make_store(db, now=T0, code="OLD-SHOP", name="Closed", latitude=45.0, longitude=4.0)
    with db.transaction() as session:
        session.scalars(select(Store).where(Store.code == "OLD-SHOP")).one().closed_at = T0
    mia = make_store_person(db, settings, store, username="mia", role="store_manager", now=T0)
    before = audits(db)
    for args, message in (
            (["PAR-BELLEVILLE", "li", "--role", "agent", "--as", "sam"], "staff_not_permitted"),
            (["PAR-BELLEVILLE", "li", "--role", "agent", "--as", mia.username], "staff_not_permitted"),
            (["PAR-BELLEVILLE", "li", "--role", "agent", "--as", "nobody"], "staff_not_found"),
            (["NO-SUCH-STORE", "li", "--role", "agent", "--as", "ada"], "store_not_found"),
            (["OLD-SHOP", "li", "--role", "agent", "--as", "ada"], "store_closed"),
            (["PAR-BELLEVILLE", "li", "--role", "finance", "--as", "ada"], "staff_role_invalid"),
            (["PAR-BELLEVILLE", "mia", "--role", "agent", "--as", "ada"], "staff_username_taken")):
        out = cli("store", "staff", "add", *args, code=1)
        assert message in out
    assert account(db, "li") is None and audits(db) == before


def test_a_pin_is_typed_twice_and_easy_or_differing_ones_change_nothing(cli, db, settings, monkeypatch):
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0)
    store = make_store(db, now=T0)
    make_store_person(db, settings, store, username="li", pin=None, now=T0)
    assert "staff_pin_weak" in typed(["store", "staff", "pin", "li"], "1234\n1234\n", code=1)
    assert "staff_pin_mismatch" in typed(["store", "staff", "pin", "li"], "4826\n4827\n", code=1)
    assert account(db, "li").pin_hash is None and not [a for a in audits(db) if a[1] == "staff.pin_set"]
    out = typed(["store", "staff", "pin", "li"], "4826\n4826\n")
    assert "PIN set for li; the old one no longer works." in out and "4826" not in out
    assert service.verify_password(account(db, "li").pin_hash, "4826")
    actor = audits(db)[-1][0]
    assert re.fullmatch(r"cli(:.+)?", actor) and audits(db)[-1][1:] == ("staff.pin_set", "PIN set")


def test_a_generated_pin_is_printed_once_and_the_as_option_names_who_did_it(cli, db, settings, monkeypatch):
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0 + timedelta(minutes=1))
    store = make_store(db, now=T0)
    other = make_store(db, now=T0, code="PAR-CHINATOWN", name="Chinatown Mobile", latitude=48.83, longitude=2.36)
    make_staff(db, settings, username="ada", role="admin")
    make_store_person(db, settings, store, username="mia", role="store_manager", now=T0)
    make_store_person(db, settings, store, username="li", now=T0)
    make_store_person(db, settings, other, username="wu", now=T0)
    out = cli("store", "staff", "pin", "li", "--generate", "--as", "mia")
    pin = out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d{6}", pin) and service.verify_password(account(db, "li").pin_hash, pin)
    assert audits(db)[-1] == ("staff:mia", "staff.pin_set", "PIN generated")
    wu_hash = account(db, "wu").pin_hash
    assert "staff_not_permitted" in cli("store", "staff", "pin", "wu", "--generate", "--as", "mia", code=1)
    assert account(db, "wu").pin_hash == wu_hash
    cli("store", "staff", "pin", "wu", "--generate", "--as", "ada")
    assert account(db, "wu").pin_hash != wu_hash and audits(db)[-1] == ("staff:ada", "staff.pin_set", "PIN generated")
    assert "staff_pin_not_store" in cli("store", "staff", "pin", "ada", "--generate", code=1)
    assert "staff_not_found" in cli("store", "staff", "pin", "nobody", "--generate", code=1)


def test_staff_list_shows_a_stores_people(cli, db, settings):
    store = make_store(db, now=T0)
    make_store_person(db, settings, store, username="li", now=T0)
    make_store_person(db, settings, store, username="mia", role="store_manager", pin=None, now=T0)
    out = cli("store", "staff", "list", "PAR-BELLEVILLE")
    rows = [line.split("│")[1:-1] for line in out.splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["li", "agent", "active", "set", "-"], ["mia", "store_manager", "active", "none", "-"]]
    assert "store_not_found" in cli("store", "staff", "list", "NOPE", code=1)


def test_devices_are_listed_and_revoked_from_the_cli(cli, db, settings, monkeypatch):
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0 + timedelta(minutes=1))
    store = make_store(db, now=T0)
    make_staff(db, settings, username="ada", role="admin")
    make_staff(db, settings, username="sam", role="support")
    device, _token = register_tablet(db, settings, store, name="Counter 1", now=T0, by="staff:mia")
    out = cli("store", "device", "list", "PAR-BELLEVILLE")
    assert str(device.id) in out and "Counter 1" in out and "live" in out
    assert "staff_not_permitted" in cli("store", "device", "revoke", str(device.id), "--as", "sam", code=1)
    assert "device_not_found" in cli("store", "device", "revoke", "not-an-id", "--as", "ada", code=1)
    assert "tablet Counter 1 revoked" in cli("store", "device", "revoke", str(device.id), "--as", "ada",
                                             "--reason", "stolen")
    assert "was revoked already" in cli("store", "device", "revoke", str(device.id), "--as", "ada")
    with db.transaction(write=False) as session:
        assert session.get(CounterDevice, device.id).revoked_at is not None
    assert audits(db)[-1] == ("staff:ada", "store.device_revoked", "stolen")


def test_purge_id_checks_deletes_what_is_past_the_retention_period(cli, db, settings, monkeypatch):
    now = T0 + timedelta(days=40)
    monkeypatch.setattr("simkeep.core.clock.now", lambda: now)
    store = make_store(db, now=T0)
    line = make_line(db, now=T0)
    with db.transaction() as session:
        session.execute(insert(IdCheck.__table__), [
            dict(id=new_id(), store_id=store.id, line_id=line.id, document_type="passport", issuing_country="CN",
                 last4="1234", checked_by="staff:li", checked_at=at) for at in (T0, now - timedelta(days=1))])
    assert clock.now() == now
    assert "1 ID check(s) older than 30 days deleted" in cli("store", "purge-id-checks")
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(IdCheck)) == 1
