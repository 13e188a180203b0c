"""Back-office pages for resellers: the list and a new reseller, a reseller's float, purchases, statement and
people, deposits recorded once per reference, disabling; admin and finance only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.reseller import service as resellers
from simkeep.staff import service as staff
from simkeep.staff.models import StaffAccount
from tests.factories.lines import make_line
from tests.reseller import csrf, moved, site_fixture, text_of  # noqa: F401 (the `site` fixture)
from tests.reseller.test_pages import buy, top_up

PAGES = ("/admin/resellers", "/admin/resellers/TABAC-RIVOLI", "/admin/resellers/TABAC-RIVOLI/statement.csv")


def create(client, **fields):
    token = csrf(client.get("/admin/account").text)
    form = {"code": "epicerie-nord", "name": "Épicerie du Nord", "currency": "EUR", "discount": "4.5",
            "email": "", "reason": "contract signed", **fields}
    return client.post("/admin/resellers", data={**form, "csrf_token": token})


def deposit(client, code: str = "TABAC-RIVOLI", **fields):
    token = csrf(client.get(f"/admin/resellers/{code}").text)
    form = {"amount": "250.00", "reference": "VIR-0001", "reason": "bank transfer received", **fields}
    return client.post(f"/admin/resellers/{code}/deposits", data={**form, "csrf_token": token})


def audit(db, action: str) -> list[AuditEntry]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_admin_and_finance_see_the_pages_support_and_resellers_do_not(site):
    _, person = site.reseller()
    for role in ("admin", "finance"):
        client = site.staff(role)
        for path in PAGES:
            assert client.get(path).status_code == 200, (role, path)
        assert 'href="/admin/resellers"' in client.get("/admin/review").text
        assert 'href="/admin/resellers"' in client.get("/admin/account").text
    support = site.staff("support")
    for path in PAGES:
        assert support.get(path).status_code == 403, path
    assert 'href="/admin/resellers"' not in support.get("/admin/review").text
    assert 'href="/admin/resellers"' not in support.get("/admin/account").text
    assert create(support).status_code == 403
    own = site.signed_in(person)
    for path in PAGES:
        assert own.get(path).status_code == 403, path
    assert 'href="/reseller"' in own.get("/admin/account").text
    stranger = site.client()
    for path in PAGES:
        answer = stranger.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin"), path
    assert site.client().get("/admin/resellers/NOBODY").status_code == 303
    assert site.staff("admin").get("/admin/resellers/NOBODY").status_code == 404


def test_finance_creates_a_reseller_and_sees_it_in_the_list(site):
    client = site.staff("finance")
    made = create(client, email="nord@example.com")
    assert made.status_code == 303 and made.headers["location"] == "/admin/resellers/EPICERIE-NORD?done=created"
    page = client.get(made.headers["location"])
    words = text_of(page.text)
    assert "Reseller created." in words
    assert "Float €0.00 Discount 4.5% Email nord@example.com Created Mar 1, 2027 9:00 AM" in words
    assert "No purchase yet." in words and "No account yet." in words
    listed = text_of(client.get("/admin/resellers").text)
    assert "EPICERIE-NORD Épicerie du Nord 4.5% €0.00 Mar 1, 2027 9:00 AM" in listed
    with site.db.transaction(write=False) as session:
        reseller = resellers.by_code(session, "EPICERIE-NORD")
    assert (reseller.discount_bp, reseller.currency, reseller.email) == (450, "EUR", "nord@example.com")
    [entry] = audit(site.db, "reseller.create")
    assert (entry.actor, entry.reason, entry.subject_id) == ("staff:finance-0", "contract signed", "EPICERIE-NORD")


def test_a_new_reseller_form_says_what_is_wrong_and_makes_nothing(site):
    client = site.staff("admin")
    site.reseller()
    for fields, status, message in (
            ({"code": "x"}, 422, "A reseller code has 2 to 32 characters"),
            ({"code": "TABAC RIVOLI"}, 422, "A reseller code has 2 to 32 characters"),
            ({"name": " "}, 422, "Give the reseller's name"),
            ({"email": "not an email"}, 422, "This email address is not valid."),
            ({"currency": "XXX"}, 422, "Choose the currency of the reseller's float."),
            ({"discount": "50.5"}, 422, "The discount is a percentage from 0 to 50"),
            ({"discount": "-1"}, 422, "The discount is a percentage from 0 to 50"),
            ({"discount": "5.125"}, 422, "The discount is a percentage from 0 to 50"),
            ({"reason": ""}, 422, "Give a reason: it is kept in the audit log."),
            ({"code": "tabac-rivoli"}, 409, "A reseller with this code exists already.")):
        answer = create(client, **fields)
        assert answer.status_code == status, fields
        assert message in text_of(answer.text), fields
        assert 'value="Épicerie du Nord"' in answer.text or fields.get("name")  # the form keeps what was typed
    with site.db.transaction(write=False) as session:
        assert [r.code for r in resellers.list_all(session)] == ["TABAC-RIVOLI"]


def test_a_deposit_is_recorded_once_per_reference(site):
    site.reseller(deposit_minor=0)
    client = site.staff("finance")
    first = deposit(client, amount="250,00")
    assert first.headers["location"] == "/admin/resellers/TABAC-RIVOLI?done=deposit"
    assert "Deposit recorded: the float is credited." in text_of(client.get(first.headers["location"]).text)
    after = moved(site.db, "TABAC-RIVOLI")
    assert after.float_minor == 25_000
    again = deposit(client, amount="250.00")
    assert again.headers["location"] == "/admin/resellers/TABAC-RIVOLI?done=already"
    page = text_of(client.get(again.headers["location"]).text)
    assert "This reference was already recorded: nothing moved this time." in page
    assert "Float €250.00" in page
    assert deposit(client, amount="999.00").headers["location"].endswith("done=already")  # another amount: still
    assert moved(site.db, "TABAC-RIVOLI") == after
    assert deposit(client, reference="VIR-0002", amount="0.50").headers["location"].endswith("done=deposit")
    assert moved(site.db, "TABAC-RIVOLI").float_minor == 25_050
    [one, two] = audit(site.db, "reseller.deposit")
    assert (one.actor, one.reason, one.details["reference"]) == ("staff:finance-0", "bank transfer received",
                                                                  "VIR-0001")
    assert two.details["amount"] == {"amount_minor": 50, "currency": "EUR"}
    statement = client.get("/admin/resellers/TABAC-RIVOLI/statement.csv").text
    assert statement.splitlines()[1:] == ["2027-03-01T09:00:00Z,deposit,VIR-0001,250.00,0.00,250.00,EUR",
                                          "2027-03-01T09:00:00Z,deposit,VIR-0002,0.50,0.00,250.50,EUR"]


def test_a_deposit_form_says_what_is_wrong_and_moves_nothing(site):
    site.reseller(deposit_minor=0)
    client = site.staff("admin")
    before = moved(site.db, "TABAC-RIVOLI")
    for fields, message in (
            ({"amount": "0"}, "Write the amount as a number greater than zero"),
            ({"amount": "-5"}, "Write the amount as a number greater than zero"),
            ({"amount": "1.005"}, "Write the amount as a number greater than zero"),
            ({"amount": "1e309"}, "Write the amount as a number greater than zero"),
            ({"amount": "NaN"}, "Write the amount as a number greater than zero"),
            ({"amount": "9" * 12}, "Write the amount as a number greater than zero"),
            ({"reference": " "}, "Give the bank transfer's reference or the receipt number"),
            ({"reference": "r" * 81}, "Give the bank transfer's reference or the receipt number"),
            ({"reason": ""}, "Give a reason: it is kept in the audit log.")):
        answer = deposit(client, **fields)
        assert answer.status_code == 422 and message in text_of(answer.text), fields
    assert moved(site.db, "TABAC-RIVOLI") == before


def test_a_formula_in_a_deposit_reference_stays_text_in_the_csv(site):
    site.reseller(deposit_minor=0)
    client = site.staff("admin")
    deposit(client, reference="=HYPERLINK(\"http://evil.example\")")
    rows = client.get("/admin/resellers/TABAC-RIVOLI/statement.csv").text.splitlines()
    assert rows[1] == '2027-03-01T09:00:00Z,deposit,"\'=HYPERLINK(""http://evil.example"")",250.00,0.00,250.00,EUR'


def test_the_reseller_page_shows_purchases_statement_and_its_people_but_no_pin(site):
    make_line(site.db, now=site.clock())
    _, person = site.reseller(deposit_minor=100_000, discount_bp=500)
    own = site.signed_in(person)
    bought = buy(own, quantity="2")
    pins = [p.replace(" ", "") for p in re.findall(r'<td class="reference">([\d ]{18,})</td>',
                                                                  bought.text)]
    assert len(pins) == 2
    assert top_up(own).status_code == 200
    client = site.staff("finance")
    page = client.get("/admin/resellers/TABAC-RIVOLI")
    words = text_of(page.text)
    assert "Float €971.50 Discount 5%" in words
    assert "e-PINs bought fr-orange-mobicarte-10 2 100000000001-100000000002 €20.00 €19.00 €1.00" in words
    assert "Line topped up +336******78 -€9.50 €0.50 €971.50" in words
    assert "tabac-rivoli Mar 1, 2027 9:00 AM Mar 1, 2027 9:00 AM Active" in words
    assert not any(pin in page.text.replace(" ", "") for pin in pins)
    assert "612345678" not in page.text


def test_a_disabled_reseller_keeps_its_history_and_takes_no_more_deposits(site):
    _, person = site.reseller(deposit_minor=10_000)
    client = site.staff("admin")
    token = csrf(client.get("/admin/resellers/TABAC-RIVOLI").text)
    assert client.post("/admin/resellers/TABAC-RIVOLI/disable", data={"reason": " ", "csrf_token": token}
                       ).status_code == 422
    done = client.post("/admin/resellers/TABAC-RIVOLI/disable", data={"reason": "contract ended",
                                                                       "csrf_token": token})
    assert done.headers["location"] == "/admin/resellers/TABAC-RIVOLI?done=disabled"
    page = client.get(done.headers["location"])
    words = text_of(page.text)
    assert "Reseller disabled: its people can no longer buy or top up from its float." in words
    assert "Status Disabled on Mar 1, 2027 9:00 AM" in words and "Float €100.00" in words
    assert 'action="/admin/resellers/TABAC-RIVOLI/deposits"' not in page.text
    before = moved(site.db, "TABAC-RIVOLI")
    refused = client.post("/admin/resellers/TABAC-RIVOLI/deposits", data={
        "amount": "10", "reference": "late", "reason": "x", "csrf_token": token})
    assert refused.status_code == 422 and "This reseller is disabled" in text_of(refused.text)
    assert moved(site.db, "TABAC-RIVOLI") == before
    assert "TABAC-RIVOLI · disabled" in text_of(client.get("/admin/resellers").text)
    [entry] = audit(site.db, "reseller.disable")
    assert (entry.actor, entry.reason) == ("staff:admin-0", "contract ended")
    assert site.signed_in(person).get("/reseller").status_code == 403


def test_a_reseller_account_belongs_to_one_reseller_and_no_other_role_has_one(site):
    reseller, person = site.reseller()
    with site.db.transaction(write=False) as session:
        assert session.get(StaffAccount, person.id).reseller_id == reseller.id
    for role, reseller_id in (("reseller", None), ("finance", reseller.id)):
        with pytest.raises(staff.ResellerBinding), site.db.transaction() as session:
            staff.create_account(session, username=f"x-{role}", role=role, password_hash="x",
                                 must_change_password=False, by="test", now=site.clock(), reseller_id=reseller_id)
    with site.db.transaction(write=False) as session:
        assert [a.username for a in staff.accounts_of_reseller(session, reseller.id)] == ["tabac-rivoli"]
