"""/admin/privacy: the retention table from the rules the job runs, the access request's download, the erasure's
confirmation step (a line in service is refused unless closed first), the erasures listed; dpo and admin only."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select

from simkeep.line.models import DEACTIVATED, Line
from simkeep.privacy import retention
from tests.privacy.subscriber import MSISDN, make_subscriber, now
from tests.reseller import csrf, site_fixture, text_of  # noqa: F401 (the `site` fixture)

PAGES = (("get", "/admin/privacy"), ("post", "/admin/privacy/export"), ("post", "/admin/privacy/erase"))


def test_only_the_dpo_and_admins_reach_the_privacy_pages(site):
    for role in ("dpo", "admin"):
        assert site.staff(role).get("/admin/privacy").status_code == 200, role
    for role in ("support", "finance"):
        client = site.staff(role)
        for method, path in PAGES:
            assert getattr(client, method)(path).status_code == 403, (role, path)


def test_the_page_lists_every_rule_with_its_period_and_legal_basis(site):
    page = site.staff("dpo").get("/admin/privacy").text
    words = text_of(page)
    for rule in retention.RULES:
        assert f'id="rule-{rule.key}"' in page
    assert "ID checks at a store's counter (document type, issuing country, last four characters) 30 days" in words
    assert "Top-ups, payments, refunds, receipts, counter sales and the ledger 10 years Legal obligation" in words
    assert "Code de commerce L123-22" in words and "No erasure yet." in words


def test_export_and_erase_from_the_page_with_a_confirmation_step(site):
    site.clock.at = now()  # the payment factory pays at the wall clock: the pages must see the same time
    make_subscriber(site.db, site.settings)
    dpo = site.staff("dpo")
    token = csrf(dpo.get("/admin/privacy").text)
    archive = dpo.post("/admin/privacy/export", data={"msisdn": "06 12 34 56 78", "reason": "request #9",
                                                       "csrf_token": token})
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert json.loads(zipped.read("line.json"))["lines"][0]["msisdn"] == MSISDN

    form = {"msisdn": MSISDN, "reason": "request #9", "csrf_token": token}
    confirm = dpo.post("/admin/privacy/erase", data=form)
    assert confirm.status_code == 200
    assert "+336******78" in confirm.text and MSISDN not in text_of(confirm.text).replace(f'value="{MSISDN}"', "")
    assert 'name="close_line"' in confirm.text  # the line is in service: closing it is offered, not assumed
    refused = dpo.post("/admin/privacy/erase", data={**form, "confirm": "true"})
    assert refused.headers["location"] == "/admin/privacy?error=line_in_service"
    assert "This number's line is still in service." in text_of(dpo.get(refused.headers["location"]).text)
    done = dpo.post("/admin/privacy/erase", data={**form, "confirm": "true", "close_line": "true"})
    assert done.headers["location"] == "/admin/privacy?done=1"
    with site.db.transaction(write=False) as session:
        line = session.scalars(select(Line)).one()
    assert line.state == DEACTIVATED and line.msisdn.startswith("x") and len(line.msisdn) == 16
    page = text_of(dpo.get("/admin/privacy?done=1").text)
    assert "Erased: 1 line(s)." in page and line.msisdn in page
    nothing = dpo.post("/admin/privacy/erase", data=form)
    assert "Nothing to erase." in text_of(nothing.text)
    missing = dpo.post("/admin/privacy/erase", data={"reason": "x", "csrf_token": token})
    assert missing.headers["location"] == "/admin/privacy?error=privacy_subject_missing"
