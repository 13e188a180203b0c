"""POST /api/v1/lines, GET /api/v1/lines/{msisdn} and its history, with a frozen clock so instants are exact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from simkeep.lifecycle.tasks import run_sweep
from simkeep.line.models import Line
from tests.conftest import T0
from tests.factories.snapshot import snapshot
from tests.web import error, freeze_clock, money

# A line created at T0 (1 March 2027, 10:00 Paris) on Orange: 30 days, then 180 days of grace, then 45 of
# quarantine. Local midnights are 23:00Z in winter and 22:00Z in summer.
VALIDITY_END = datetime(2027, 3, 31, 22, 0, tzinfo=UTC)
NUMBER_LOSS = datetime(2027, 9, 27, 22, 0, tzinfo=UTC)
QUARANTINE = datetime(2027, 9, 28, 22, 0, tzinfo=UTC)
AVAILABLE = datetime(2027, 11, 11, 23, 0, tzinfo=UTC)


def create(client, msisdn: str = "06 12 34 56 78", operator_id: str = "fr-orange-mobicarte", **extra):
    return client.post("/api/v1/lines", json={"msisdn": msisdn, "operator_id": operator_id, **extra})


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def history(client, msisdn: str = "+33612345678", **params) -> dict:
    response = client.get(f"/api/v1/lines/{msisdn}/history", params=params)
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0)


def test_create_line_from_national_input(client, clock):
    response = create(client, language="fr")
    assert response.status_code == 201
    body = response.json()
    uuid.UUID(body.pop("id"))
    assert body == {
        "msisdn": "+33612345678", "operator_id": "fr-orange-mobicarte", "state": "active",
        "balance": money(0), "credit": money(0), "bonus": money(0), "validity_ends_at": iso(VALIDITY_END),
        "number_loss_at": iso(NUMBER_LOSS), "available_at": iso(AVAILABLE), "language": "fr",
        "network": None,  # no SIM yet
    }


@pytest.mark.parametrize("raw", ["+33612345678", "+33 6 12 34 56 78", "0033612345678", "06.12.34.56.78"])
def test_international_and_formatted_input_normalise_to_e164(client, clock, raw):
    response = create(client, raw)
    assert response.status_code == 201
    assert (response.json()["msisdn"], response.json()["language"]) == ("+33612345678", "en")


def test_foreign_operator_uses_its_country_currency_and_zone(client, clock):
    response = create(client, "9123 4567", "hk-clubsim")
    assert response.status_code == 201
    body = response.json()
    # 30 days from 1 March 17:00 Hong Kong -> the end of 31 March, local midnight = 16:00Z.
    assert (body["msisdn"], body["balance"], body["validity_ends_at"]) == (
        "+85291234567", money(0, "HKD"), "2027-03-31T16:00:00Z")


@pytest.mark.parametrize("raw", [
    "12345", "not a number", "", "+33712345678",  # invalid
    "+33141234567", "01 41 23 45 67",  # a Paris landline
    "+85291234567",  # a Hong Kong mobile for a French operator
    "+1 415 555 0123",
])
def test_invalid_non_mobile_or_foreign_number_is_422_and_writes_nothing(client, db, clock, raw):
    before = snapshot(db)
    assert error(create(client, raw)) == (422, "invalid_msisdn")
    assert snapshot(db) == before


def test_unknown_operator_is_404(client, db, clock):
    before = snapshot(db)
    assert error(create(client, operator_id="fr-nope")) == (404, "operator_not_found")
    assert snapshot(db) == before


@pytest.mark.parametrize(("tag", "answered", "stored"), [
    ("zh-CN", "zh-CN", "zh_CN"), ("zh_CN", "zh-CN", "zh_CN"), ("ZH-cn", "zh-CN", "zh_CN"), ("zh-Hans", "zh-CN", "zh_CN"),
    ("zh-Hans-CN", "zh-CN", "zh_CN"), ("zh", "zh-CN", "zh_CN"),
    ("zh-TW", "zh-CN", "zh_CN"), ("zh-HK", "zh-CN", "zh_CN"), ("zh-Hant", "zh-CN", "zh_CN"),  # Simplified: no Traditional
    ("fr-FR", "fr", "fr"), ("fr", "fr", "fr"), ("FR", "fr", "fr"), ("fr-CA", "fr", "fr"), ("fr_BE", "fr", "fr"),
    ("en-GB", "en", "en"), ("en", "en", "en"), ("en-US", "en", "en"), ("en_gb", "en", "en"),
])
def test_language_is_read_as_a_bcp47_tag_and_answered_in_one_canonical_form(client, db, clock, tag, answered, stored):
    response = create(client, language=tag)
    assert response.status_code == 201, response.text
    assert response.json()["language"] == answered
    assert client.get("/api/v1/lines/+33612345678").json()["language"] == answered
    with db.transaction(write=False) as session:
        assert session.scalar(select(Line.language).where(Line.msisdn == "+33612345678")) == stored


@pytest.mark.parametrize("tag", ["de", "de-DE", "klingon", "tlh", "", " ", "zh-", "-CN", "en--GB", "en GB", "123",
                                 "en-GB;q=0.9", "x-private", "e", "zh-CN\u00e9"])
def test_unknown_language_is_422_unsupported_language_and_writes_nothing(client, db, clock, tag):
    before = snapshot(db)
    response = create(client, language=tag)
    assert error(response) == (422, "unsupported_language")
    assert response.json()["error"]["supported"] == ["zh-CN", "fr", "en"]
    assert "zh-CN, fr or en" in response.json()["error"]["message"]
    assert snapshot(db) == before


def test_a_language_longer_than_any_tag_is_a_validation_error(client, db, clock):
    before = snapshot(db)
    assert error(create(client, language="en-" + "a" * 40)) == (422, "validation_error")
    assert snapshot(db) == before


def test_openapi_documents_the_tags_and_the_canonical_answer(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    asked, answered = schemas["LineCreate"]["properties"]["language"], schemas["LineOut"]["properties"]["language"]
    assert asked["examples"] == ["zh-CN", "fr", "en-GB"] and "`zh_CN` is still read" in asked["description"]
    assert answered["enum"] == ["zh-CN", "fr", "en"] and "canonical" in answered["description"]
    post = client.get("/openapi.json").json()["paths"]["/api/v1/lines"]["post"]
    assert "`unsupported_language`" in post["responses"]["422"]["description"]


def test_number_in_use_is_409_whatever_the_format_or_operator(client, db, clock):
    assert create(client).status_code == 201
    before = snapshot(db)
    for raw, operator in (("+33612345678", "fr-orange-mobicarte"), ("0612345678", "fr-sfr-la-carte")):
        assert error(create(client, raw, operator)) == (409, "number_unavailable")
    assert snapshot(db) == before


def test_number_in_quarantine_is_409_until_available_again(client, db, clock):
    first = create(client).json()
    run_sweep(db, now=QUARANTINE + timedelta(days=1))
    assert client.get("/api/v1/lines/+33612345678").json()["state"] == "quarantine"
    clock.at = QUARANTINE + timedelta(days=2)
    before = snapshot(db)
    assert error(create(client, operator_id="fr-sfr-la-carte")) == (409, "number_unavailable")
    assert snapshot(db) == before

    run_sweep(db, now=AVAILABLE)
    clock.at = AVAILABLE + timedelta(hours=10)  # 12 November 2027, 10:00 Paris
    response = create(client, operator_id="fr-sfr-la-carte")
    assert response.status_code == 201
    second = response.json()
    assert second["id"] != first["id"]
    # 30 days -> the end of 12 December (Paris, winter time).
    assert (second["operator_id"], second["state"], second["validity_ends_at"]) == (
        "fr-sfr-la-carte", "active", "2027-12-12T23:00:00Z")
    assert client.get("/api/v1/lines/+33612345678").json() == second


def test_deactivated_number_is_409(client, db, clock):
    create(client)
    run_sweep(db, now=NUMBER_LOSS)
    assert client.get("/api/v1/lines/0612345678").json()["state"] == "deactivated"
    before = snapshot(db)
    assert error(create(client)) == (409, "number_unavailable")
    assert snapshot(db) == before


def test_get_line_by_any_format(client, clock):
    created = create(client, language="zh_CN").json()
    for raw in ("+33612345678", "0612345678", "+33 6 12 34 56 78"):
        response = client.get(f"/api/v1/lines/{raw}")
        assert response.status_code == 200
        assert response.json() == created


@pytest.mark.parametrize("raw", ["+33612345679", "0699999999"])
def test_unknown_line_is_404(client, clock, raw):
    create(client)
    assert error(client.get(f"/api/v1/lines/{raw}")) == (404, "line_not_found")


@pytest.mark.parametrize("raw", ["abc", "1", "9" * 40])
def test_garbage_number_in_path_is_422(client, raw):
    assert error(client.get(f"/api/v1/lines/{raw}")) == (422, "invalid_msisdn")


def test_history_newest_first_with_every_kind_of_item(client, db, clock):
    create(client)
    clock.at = T0 + timedelta(hours=1)
    topup = client.post("/api/v1/topups", json={"msisdn": "+33612345678", "offer_id": "fr-orange-mobicarte-25"},
                        headers={"Idempotency-Key": "t1"}).json()
    clock.at = T0 + timedelta(hours=2)
    charge = client.post("/api/v1/charges", json={"msisdn": "+33612345678", "amount_minor": 700, "kind": "call"},
                         headers={"Idempotency-Key": "c1"}).json()
    # The top-up moved validity to the end of 30 May (Paris); a sweep the next morning finds the line in grace.
    run_sweep(db, now=datetime(2027, 5, 31, 8, 0, tzinfo=UTC))

    items = history(client)["items"]
    summary = [(i["at"], i["type"], i.get("to") or i.get("topic") or i.get("kind") or i.get("offer_id"))
               for i in items]
    grace = "2027-05-31T08:00:00+00:00"
    assert summary[0] == (grace, "state_change", "grace")
    assert set(summary[1:3]) == {(grace, "notification", "line.grace"), (grace, "notification", "line.state_changed")}
    assert summary[3:] == [
        ("2027-03-01T11:00:00+00:00", "charge", "call"),
        ("2027-03-01T10:00:00+00:00", "topup", "fr-orange-mobicarte-25"),
        ("2027-03-01T10:00:00+00:00", "notification", "topup.completed"),
        ("2027-03-01T09:00:00+00:00", "state_change", "active"),
    ]
    assert items[3] == {"type": "charge", "id": charge["id"], "at": "2027-03-01T11:00:00+00:00", "kind": "call",
                        "amount": money(700)}
    assert items[4] == {
        "type": "topup", "id": topup["id"], "at": "2027-03-01T10:00:00+00:00", "offer_id": "fr-orange-mobicarte-25",
        "channel": "api", "amount": money(2500), "bonus": money(500), "validity_ends_at": "2027-05-30T22:00:00+00:00",
        "status": "completed",
    }
    assert items[6] == {"type": "state_change", "id": items[6]["id"], "at": "2027-03-01T09:00:00+00:00",
                        "from": None, "to": "active", "reason": "created"}


def test_history_pages_neither_overlap_nor_miss(client, db, clock):
    create(client)
    for hour in range(1, 8):
        clock.at = T0 + timedelta(hours=hour)
        key = f"t{hour}"
        if hour % 2:
            client.post("/api/v1/topups", json={"msisdn": "+33612345678", "offer_id": "fr-orange-mobicarte-5"},
                        headers={"Idempotency-Key": key})
        else:
            client.post("/api/v1/charges", json={"msisdn": "+33612345678", "amount_minor": 100, "kind": "sms"},
                        headers={"Idempotency-Key": key})
    whole = history(client, limit=200)
    assert whole["next_before"] is None
    # 1 creation + 4 top-ups with their notifications + 3 charges
    assert len(whole["items"]) == 12
    for limit in (1, 2, 3, 5):
        pages, cursor = [], None
        while True:
            page = history(client, limit=limit, **({"before": cursor} if cursor else {}))
            assert len(page["items"]) >= 1
            pages.append(page["items"])
            cursor = page["next_before"]
            if cursor is None:
                break
        assert [item for page in pages for item in page] == whole["items"]
        for page in pages:  # a page runs over its limit only to keep items of one instant together
            assert all(item["at"] == page[limit - 1]["at"] for item in page[limit:])


def test_history_of_unknown_line_is_404(client):
    assert error(client.get("/api/v1/lines/+33612345678/history")) == (404, "line_not_found")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"before": "yesterday"},
                                    {"before": "2027-03-01T09:00:00"}])
def test_history_bad_query_is_422(client, clock, params):
    create(client)
    assert error(client.get("/api/v1/lines/+33612345678/history", params=params)) == (422, "validation_error")
