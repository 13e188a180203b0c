"""/admin/dashboard: the charts' tables and CSV downloads with the same filters, the data block the charts draw
from, who may see it, and filters that are refused with a translated page."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from simkeep.line.models import Line
from simkeep.main import create_app
from tests.factories.lines import make_line, top_up
from tests.factories.staff import csrf_of, make_staff, next_code
from tests.web import freeze_clock

NOW = datetime(2027, 3, 30, 8, 0, tzinfo=UTC)
A, B = "+33612345678", "+33612345679"
PERIOD = "operator=fr-orange-mobicarte&from=2027-03-27&to=2027-03-29"


@pytest.fixture
def signed_in(db, settings, monkeypatch):
    """A finance person signed in, with three Orange renewals: 27 March (api), 28 March at 23:59:59 Paris summer
    time (voucher) and 29 March (api); one on 26 March is outside the period."""
    freeze_clock(monkeypatch, NOW)
    for number in (A, B):
        make_line(db, msisdn=number, now=datetime(2027, 3, 1, 9, tzinfo=UTC))
    top_up(db, msisdn=A, channel="api", now=datetime(2027, 3, 26, 12, tzinfo=UTC))
    top_up(db, msisdn=A, channel="api", now=datetime(2027, 3, 27, 12, tzinfo=UTC))
    top_up(db, msisdn=B, channel="voucher", now=datetime(2027, 3, 28, 21, 59, 59, tzinfo=UTC))
    top_up(db, msisdn=B, channel="api", now=datetime(2027, 3, 29, 12, tzinfo=UTC))
    with db.transaction() as session:  # B: 10 days before its number is lost
        session.execute(update(Line).where(Line.msisdn == B).values(number_loss_at=datetime(2027, 4, 9, 8, tzinfo=UTC)))

    def as_role(role: str) -> TestClient:
        client = TestClient(create_app(settings, db), follow_redirects=False)
        client.__enter__()
        person = make_staff(db, settings, username=f"{role}-dash", role=role, now=NOW)
        token = csrf_of(client.get("/admin").text)
        answer = client.post("/admin", data={"username": person.username, "password": person.password,
                                             "csrf_token": token})
        if answer.headers["location"] == "/admin/totp":  # wherever each role lands next does not matter here
            client.post("/admin/totp", data={"code": next_code(db, person, NOW), "csrf_token": token})
        opened.append(client)
        return client

    opened: list[TestClient] = []
    yield as_role
    for client in opened:
        client.__exit__(None, None, None)


def table(page: str, chart: str) -> list[list[str]]:
    body = re.search(rf'<table class="log" data-table="{chart}">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_tables_the_csv_and_the_chart_data_say_the_same(signed_in):
    client = signed_in("finance")
    page = client.get(f"/admin/dashboard?{PERIOD}&lang=en")
    assert page.status_code == 200
    assert table(page.text, "renewals") == [["March 27, 2027", "API", "API", "1"],
                                            ["March 28, 2027", "Recharge card", "Recharge card", "1"],
                                            ["March 29, 2027", "API", "API", "1"]]
    assert table(page.text, "revenue") == [["March 27, 2027", "EUR", "1", "€10.00", "€0.00"],
                                           ["March 28, 2027", "EUR", "1", "€10.00", "€0.00"],
                                           ["March 29, 2027", "EUR", "1", "€10.00", "€0.00"]]
    renewals = client.get(f"/admin/dashboard/renewals.csv?{PERIOD}")
    assert renewals.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="renewals_fr-orange-mobicarte_2027-03-27_2027-03-29.csv"' in renewals.headers[
        "content-disposition"]
    assert read_csv(renewals.text) == [["day", "channel", "method", "renewals"], ["2027-03-27", "api", "api", "1"],
                                       ["2027-03-28", "voucher", "voucher", "1"], ["2027-03-29", "api", "api", "1"]]
    assert read_csv(client.get(f"/admin/dashboard/revenue.csv?{PERIOD}").text) == [
        ["day", "currency", "renewals", "sales", "promotion"], ["2027-03-27", "EUR", "1", "10.00", "0.00"],
        ["2027-03-28", "EUR", "1", "10.00", "0.00"], ["2027-03-29", "EUR", "1", "10.00", "0.00"]]
    data = json.loads(html.unescape(re.search(r'<div id="dashboard-data" hidden data-charts="(.*?)"></div>',
                                              page.text, re.S).group(1)))
    assert data["renewals"][0] == {"kind": "bar", "stack": True, "unit": "count",
                                   "x": ["2027-03-27", "2027-03-28", "2027-03-29"],
                                   "series": [{"name": "API", "data": [1, 0, 1]},
                                              {"name": "Recharge card", "data": [0, 1, 0]}]}
    assert data["revenue"][0]["series"][0] == {"name": "Sales", "data": [10.0, 10.0, 10.0]}
    # The page's CSV links carry the period's actual days, so a download is what the page shows.
    assert f'href="/admin/dashboard/at_risk.csv?{PERIOD.replace("&", "&amp;")}"' in page.text


def test_every_chart_has_a_table_and_a_csv_with_the_same_rows(signed_in):
    client = signed_in("support")
    page = client.get(f"/admin/dashboard?{PERIOD}&lang=en").text
    for chart in ("renewals", "revenue", "at_risk", "losses", "conversion", "payments", "review_age"):
        rows = read_csv(client.get(f"/admin/dashboard/{chart}.csv?{PERIOD}").text)[1:]
        shown = [row for row in table(page, chart) if row != ["Nothing in this period."]]
        assert len(rows) == len(shown), chart
    assert read_csv(client.get(f"/admin/dashboard/at_risk.csv?{PERIOD}").text) == [
        ["bucket", "lines"], ["0-7", "0"], ["8-30", "1"], ["31-90", "0"]]
    assert table(page, "at_risk") == [["0–7 days", "0"], ["8–30 days", "1"], ["31–90 days", "0"]]


def test_presets_and_all_operators(signed_in):
    client = signed_in("admin")
    page = client.get("/admin/dashboard?days=7&lang=en")
    assert page.status_code == 200
    # Operators of several time zones: the reader's zone (no tz cookie here: UTC) draws the days.
    assert "From March 24, 2027 to March 30, 2027, whole days in UTC" in page.text
    assert read_csv(client.get("/admin/dashboard/renewals.csv?from=2027-03-27&to=2027-03-29").text)[1:] == [
        ["2027-03-27", "api", "api", "1"], ["2027-03-28", "voucher", "voucher", "1"], ["2027-03-29", "api", "api", "1"]]


def test_a_role_without_dashboard_read_gets_403(signed_in):
    client = signed_in("dpo")
    assert client.get("/admin/dashboard").status_code == 403
    assert client.get(f"/admin/dashboard/revenue.csv?{PERIOD}").status_code == 403


@pytest.mark.parametrize(("query", "status", "message"), [
    ("from=2027-02-30&to=2027-03-01", 422, "Ce lien ou ce formulaire n'est pas valide"),
    ("from=2027-03-29&to=2027-03-27", 422, "Choisissez une période"),
    ("from=2026-01-01&to=2027-03-27", 422, "Choisissez une période"),
    ("days=14", 422, "Choisissez une période"),
    ("operator=nope", 422, "Cet opérateur n’existe pas"),
])
def test_bad_filters_get_a_translated_page_and_nothing_else(signed_in, query, status, message):
    client = signed_in("finance")
    page = client.get(f"/admin/dashboard?{query}&lang=fr")
    assert page.status_code == status
    assert message in html.unescape(page.text)
    assert 'id="dashboard-data"' not in page.text
    assert client.get(f"/admin/dashboard/renewals.csv?{query}&lang=fr").status_code == status
