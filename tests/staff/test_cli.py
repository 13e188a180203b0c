"""`simkeep staff ...` and the demo accounts of `make run`."""

from __future__ import annotations

import json
import re
import stat

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.main import create_app
from simkeep.staff import service
from simkeep.staff.demo import FILE, ensure_demo_staff
from simkeep.staff.models import StaffAccount
from tests.factories.staff import PASSWORD, Staff, csrf_of, make_staff, sign_in


def account(db, username: str) -> StaffAccount:
    with db.transaction(write=False) as session:
        return session.scalars(select(StaffAccount).where(StaffAccount.username == username)).one()


def test_create_prints_a_one_time_password_that_must_be_changed(cli, db, settings):
    out = cli("staff", "create", "Bob", "--role", "finance")
    password = out.strip().splitlines()[-1]
    assert "finance account bob created." in out and len(password) == 20
    bob = account(db, "bob")
    assert (bob.role, bob.must_change_password) == ("finance", True)
    assert password not in bob.password_hash and bob.password_hash.startswith("$argon2id$")
    with TestClient(create_app(settings, db), follow_redirects=False) as web:
        sign_in(web, db, Staff(bob.id, "bob", "finance", password, None))
        assert web.get("/admin/review").headers["location"] == "/admin/account"
    assert "staff_username_taken" in cli("staff", "create", "bob", "--role", "support", code=1)
    assert "staff_role_invalid" in cli("staff", "create", "mallory", "--role", "root", code=1)
    assert "staff_username_invalid" in cli("staff", "create", "a b", "--role", "support", code=1)


def test_list_disable_and_resets_end_sessions(cli, db, settings):
    fay = make_staff(db, settings, username="fay", role="finance")
    ada = make_staff(db, settings, username="ada", role="admin")
    app = create_app(settings, db)
    with TestClient(app, follow_redirects=False) as web:
        sign_in(web, db, fay)
        listed = cli("staff", "list")
        assert re.search(r"fay\s+│\s+finance\s+│\s+active\s+│\s+no\s+│\s+\S+ \S+\s+│\s+1", listed), listed
        assert re.search(r"ada\s+│\s+admin\s+│\s+active\s+│\s+yes\s+│\s+-\s+│\s+0", listed), listed
        assert "1 session(s) ended" in cli("staff", "disable", "fay")
        assert web.get("/admin/review").headers["location"] == "/admin"
        token = csrf_of(web.get("/admin").text)
        assert web.post("/admin", data={"username": "fay", "password": PASSWORD, "csrf_token": token}
                        ).status_code == 401
        assert "disabled" in cli("staff", "list")

        sign_in(web, db, ada)
        out = cli("staff", "reset-totp", "ada")
        assert "TOTP reset" in out and account(db, "ada").totp_secret is None
        assert web.get("/admin/review").headers["location"] == "/admin"
        new_password = cli("staff", "reset-password", "ada").strip().splitlines()[-1]
        assert account(db, "ada").must_change_password is True
        token = csrf_of(web.get("/admin").text)
        assert web.post("/admin", data={"username": "ada", "password": PASSWORD, "csrf_token": token}
                        ).status_code == 401
        assert web.post("/admin", data={"username": "ada", "password": new_password, "csrf_token": token}
                        ).headers["location"] == "/admin/totp"  # enrols a new second factor
    assert "staff_not_found" in cli("staff", "disable", "nobody", code=1)
    with db.transaction(write=False) as session:
        actions = [(r.action, r.actor.split(":")[0]) for r in session.scalars(select(AuditEntry)
                   .where(AuditEntry.action.in_(("staff.disabled", "staff.totp_reset", "staff.password_changed"))))]
    assert sorted(actions) == [("staff.disabled", "cli"), ("staff.password_changed", "cli"), ("staff.totp_reset", "cli")]


def test_the_demo_accounts_are_kept_in_a_private_file_and_sign_in(db, settings):
    first = ensure_demo_staff(db, settings)
    path = settings.data_dir / FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [(d.username, d.role, d.totp_uri is not None) for d in first] == [
        ("demo-admin", "admin", True), ("demo-support", "support", False), ("demo-finance", "finance", False),
        ("demo-dpo", "dpo", False)]
    again = ensure_demo_staff(db, settings)
    assert again == first  # a restart keeps them
    stored = json.loads(path.read_text())
    secret = stored["demo-admin"]["totp"]
    assert first[0].totp_uri == pyotp.TOTP(secret).provisioning_uri(name="demo-admin", issuer_name="simkeep")
    admin = account(db, "demo-admin")
    assert service.open_totp(admin.totp_secret, keys=settings.verifying_keys("totp"), account_id=admin.id) == secret
    with TestClient(create_app(settings, db), follow_redirects=False) as web:
        sign_in(web, db, Staff(admin.id, "demo-admin", "admin", first[0].password, secret))
        assert web.get("/admin/review").status_code == 200
        web.cookies.clear()
        support = account(db, "demo-support")
        sign_in(web, db, Staff(support.id, "demo-support", "support", first[1].password, None))
    path.unlink()  # lost: new passwords, and the accounts follow them
    renewed = ensure_demo_staff(db, settings)
    assert renewed[0].password != first[0].password
    assert service.verify_password(account(db, "demo-admin").password_hash, renewed[0].password)


def test_a_reseller_account_belongs_to_one_reseller(cli, db, settings):
    from tests.conftest import T0
    from tests.factories.vouchers import make_reseller

    reseller = make_reseller(db, code="TABAC-RIVOLI", now=T0)
    out = cli("staff", "create", "rivoli", "--role", "reseller", "--reseller", "tabac-rivoli")
    assert "reseller account rivoli created for reseller TABAC-RIVOLI." in out
    assert (account(db, "rivoli").role, account(db, "rivoli").reseller_id) == ("reseller", reseller.id)
    assert re.search(r"rivoli\s+│\s+reseller TABAC-RIVOLI\s+│", cli("staff", "list"))
    count = len(cli("staff", "list").splitlines())
    assert "staff_reseller_binding" in cli("staff", "create", "shop2", "--role", "reseller", code=1)
    assert "staff_reseller_binding" in cli("staff", "create", "fin2", "--role", "finance", "--reseller",
                                           "TABAC-RIVOLI", code=1)
    assert "reseller_not_found" in cli("staff", "create", "shop3", "--role", "reseller", "--reseller", "NOPE", code=1)
    assert len(cli("staff", "list").splitlines()) == count
