"""/admin/partners: who may see it, a new partner with its secret shown once, a form that says what is wrong,
and a month's statement on the page and as CSV; `simkeep partner create|list|statement`."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.promotion import cashback
from simkeep.promotion.models import Partner
from simkeep.topup import service as topups
from tests.factories.lines import make_line
from tests.factories.snapshot import count
from tests.reseller import csrf, site_fixture, text_of  # noqa: F401 (the `site` fixture)

MSISDN = "+33612345678"
OFFER = "fr-orange-mobicarte-10"


def create(client, **fields):
    token = csrf(client.get("/admin/account").text)
    form = {"code": "cashback-fr", "name": "Cashback France", "percent": "2.5", "fixed": "0.30", "currency": "EUR",
            "postback_url": "https://partner.example/postback", "reason": "contract signed", **fields}
    return client.post("/admin/partners", data={**form, "csrf_token": token})


def test_admin_and_finance_manage_partners_support_does_not(site):
    for role in ("admin", "finance"):
        client = site.staff(role)
        assert client.get("/admin/partners").status_code == 200
        assert 'href="/admin/partners"' in client.get("/admin/account").text
    support = site.staff("support")
    assert support.get("/admin/partners").status_code == 403
    assert 'href="/admin/partners"' not in support.get("/admin/account").text
    assert create(support).status_code == 403
    assert site.client().get("/admin/partners").headers["location"] == "/admin"


def test_finance_creates_a_partner_and_sees_its_secret_once(site):
    client = site.staff("finance")
    made = create(client)
    assert made.status_code == 200
    with site.db.transaction(write=False) as session:
        partner = session.scalars(select(Partner)).one()
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "partner.create")).all()
    assert (partner.code, partner.percent_bp, partner.fixed_minor, partner.currency) == ("CASHBACK-FR", 250, 30, "EUR")
    assert partner.secret in made.text and "shown only this once" in text_of(made.text)
    assert (entry.actor, entry.reason) == ("staff:finance-0", "contract signed")
    listed = client.get("/admin/partners").text
    assert partner.secret not in listed
    assert "CASHBACK-FR Cashback France 2.5% + €0.30 https://partner.example/postback active" in text_of(listed)
    again = create(client)
    assert again.status_code == 409 and "exists already" in text_of(again.text) and count(site.db, Partner) == 1


def test_a_new_partner_form_says_what_is_wrong_and_makes_nothing(site):
    client = site.staff("admin")
    for fields, words in (({"code": "x"}, "2 to 32 characters"), ({"percent": "60"}, "from 0 to 50"),
                          ({"percent": "0", "fixed": "0"}, "percentage, a fixed amount or both"),
                          ({"postback_url": "ftp://x"}, "https://"), ({"reason": " "}, "audit log")):
        answer = create(client, **fields)
        assert answer.status_code == 422 and words in text_of(answer.text), fields
    assert count(site.db, Partner) == 0


def test_the_statement_shows_the_month_and_downloads_as_csv(site):
    make_line(site.db, now=site.clock())
    with site.db.transaction() as session:
        cashback.create_partner(session, code="CASHBACK-FR", name="Cashback France", percent_bp=250, fixed_minor=30,
                                currency="EUR", actor="staff:alice", reason="test", now=site.clock())
    for key in ("k1", "k2"):
        with site.db.transaction() as session:
            quote = topups.quote(session, msisdn=MSISDN, offer_id=OFFER, channel="api", now=site.clock(),
                                 partner_code="cashback-fr")
            topups.top_up(session, principal="test", idempotency_key=key, msisdn=MSISDN, offer_id=OFFER,
                          channel="api", now=site.clock(), quote_id=quote.id)
        site.clock.advance(hours=1)
    client = site.staff("finance")
    page = client.get("/admin/partners/cashback-fr/statement?month=2027-03")
    assert page.status_code == 200
    assert "EUR 2 €20.00 €1.10 0 €0.00 €1.10" in text_of(page.text)
    empty = client.get("/admin/partners/CASHBACK-FR/statement?month=2027-02")
    assert "Nothing this month." in text_of(empty.text)
    assert client.get("/admin/partners/CASHBACK-FR/statement?month=2027-13").status_code == 422
    assert client.get("/admin/partners/NOBODY/statement").status_code == 404
    got = client.get("/admin/partners/CASHBACK-FR/statement.csv?month=2027-03")
    assert got.headers["content-disposition"] == 'attachment; filename="partner-CASHBACK-FR-2027-03.csv"'
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == list(cashback.CSV_HEADER)
    assert [r[1] for r in rows[1:]] == ["conversion", "conversion", "due"]
    assert rows[1][5:9] == ["10.00", "0.55", "EUR", "pending"] and rows[-1] == ["2027-03", "due", "", "", "", "20.00",
                                                                               "1.10", "EUR", ""]


def test_the_partner_cli_creates_lists_and_prints_a_statement(cli, db):
    out = cli("partner", "create", "deals-fr", "--name", "Deals", "--percent", "3", "--fixed", "0.20",
              "--currency", "EUR", "--reason", "contract")
    assert "partner DEALS-FR created" in out and "pbsec_" in out
    assert "DEALS-FR" in cli("partner", "list") and "3" in cli("partner", "list")
    assert "error partner_exists" in cli("partner", "create", "DEALS-FR", "--name", "Again", "--percent", "1",
                                         "--reason", "x", code=1)
    out = cli("partner", "statement", "deals-fr", "--month", "2026-11", "--csv")
    assert out.splitlines() == [",".join(cashback.CSV_HEADER)]
    assert "error invalid_input" in cli("partner", "statement", "DEALS-FR", "--month", "november", code=1)
    assert "error partner_not_found" in cli("partner", "statement", "NOBODY", code=1)

