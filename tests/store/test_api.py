"""GET /api/v1/stores: public, nearest first, open-now as data, directions, demo flag; bad searches are 422."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from simkeep.main import create_app
from tests.conftest import T0
from tests.factories.stores import make_store
from tests.store.test_nearest import PLACES

NOW = datetime(2027, 3, 1, 17, 30, tzinfo=UTC)  # Monday 18:30 in Paris


@pytest.fixture
def anonymous(settings, db, monkeypatch):
    monkeypatch.setattr("simkeep.core.clock.now", lambda: NOW)
    with TestClient(create_app(settings, db)) as client:
        yield client


@pytest.fixture
def places(db):
    for code, (lat, lon, postcode, city) in PLACES.items():
        make_store(db, now=T0, code=code, latitude=lat, longitude=lon, postcode=postcode, city=city,
                   demo=code.startswith("PAR"))


def test_nearest_stores_of_a_point_with_everything_the_finder_shows(anonymous, places):
    response = anonymous.get("/api/v1/stores", params={"lat": 48.8674, "lon": 2.3636, "limit": 2})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["center"] == {"latitude": 48.8674, "longitude": 2.3636, "source": "point"}
    assert [(s["code"], s["distance_km"]) for s in body["stores"]] == [("PAR-BELLEVILLE", 1.09),
                                                                       ("PAR-GARE-DU-NORD", 1.619)]
    assert body["stores"][0] == {
        "code": "PAR-BELLEVILLE", "name": "Tabac de Belleville", "address": "12 rue de Belleville",
        "postcode": "75020", "city": "Paris", "country": "FR", "latitude": 48.8722, "longitude": 2.3766,
        "phone": "+33143580000", "timezone": "Europe/Paris", "distance_km": 1.09,
        "open_now": {"open": True, "next_change_at": "2027-03-01T18:00:00Z",
                     "next_change_local": "2027-03-01T19:00:00+01:00"},
        "hours": {day: [["09:00", "19:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
        "closed_on": [], "languages": ["zh_CN", "fr"], "services": ["renewal", "voucher_sale"],
        "operators": ["fr-orange-mobicarte"],
        "directions": {"geo": "geo:48.87220,2.37660",
                       "osm": "https://www.openstreetmap.org/directions?to=48.87220%2C2.37660"},
        "demo": True}


def test_search_by_postcode_or_city(anonymous, places):
    by_postcode = anonymous.get("/api/v1/stores", params={"q": "75013", "limit": 1}).json()
    assert by_postcode["center"] == {"latitude": 48.8262, "longitude": 2.3622, "source": "postcode"}
    assert [s["code"] for s in by_postcode["stores"]] == ["PAR-CHINATOWN"]
    by_city = anonymous.get("/api/v1/stores", params={"q": "Saint-Étienne", "limit": 2}).json()
    assert [s["code"] for s in by_city["stores"]] == ["STE-CENTRE", "LYO-GUILLOTIERE"]
    assert by_city["center"]["source"] == "city"
    assert by_city["stores"][1]["demo"] is False
    assert anonymous.get("/api/v1/stores", params={"q": "Quimper"}).json() == {"center": None, "stores": []}


@pytest.mark.parametrize("params", [{}, {"lat": 48.8}, {"lon": 2.3, "q": " "}, {"q": "  "}])
def test_a_search_without_a_place_is_422(anonymous, places, params):
    response = anonymous.get("/api/v1/stores", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "store_search_missing"


@pytest.mark.parametrize("params", [{"lat": 91, "lon": 0}, {"lat": 0, "lon": 180.5}, {"q": "x", "limit": 51},
                                    {"q": "x", "limit": 0}])
def test_out_of_range_is_a_validation_error(anonymous, params):
    response = anonymous.get("/api/v1/stores", params=params)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")


def test_documented_with_examples(anonymous):
    operation = anonymous.get("/openapi.json").json()["paths"]["/api/v1/stores"]["get"]
    assert operation["tags"] == ["stores"] and "security" not in operation
    assert [p["name"] for p in operation["parameters"]] == ["lat", "lon", "q", "limit"]
    assert operation["parameters"][2]["schema"]["examples"] == ["75013"]
    example = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert example == {"$ref": "#/components/schemas/StoresOut"}
    assert anonymous.get("/openapi.json").json()["components"]["schemas"]["StoresOut"]["examples"][0]["stores"][0][
        "code"] == "DEMO-PAR-BELLEVILLE"
