"""/stores, the store finder, server-rendered in three languages: search by postcode or city without JavaScript,
distances and hours formatted for the reader, languages named in the reader's language, the demo badge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simkeep.demo import seed_demo_stores
from tests.conftest import T0
from tests.factories.stores import make_store
from tests.store.html import parse

NOW = datetime(2027, 3, 1, 17, 30, tzinfo=UTC)  # Monday 18:30 in Paris
SUNDAY = datetime(2027, 3, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def at(monkeypatch):
    def set_now(instant):
        monkeypatch.setattr("simkeep.core.clock.now", lambda: instant)
    set_now(NOW)
    return set_now


def cards(html: str) -> list[dict]:
    return [{"code": li["data-code"], "name": li.one("h3").text(), "distance": li.one(".distance").text(),
             "hours": li.one(".hours").text(), "spoken": li.one(".spoken").text() if li.one(".spoken") else None,
             "demo": li.one(".demo") is not None, "links": [a["href"] for a in li.one(".store-links").all("a")]}
            for li in parse(html).all("li.store")]


def test_without_a_search_the_page_offers_the_form(client, at):
    page = client.get("/stores?lang=en")
    assert page.status_code == 200
    soup = parse(page.text)
    assert soup.one("form.store-search")["action"] == "/stores"
    assert soup.one("#store-q")["name"] == "q"
    assert soup.one("#near-me").has("hidden")  # stores.js shows it where geolocation exists
    assert soup.all("ol.stores") == [] and soup.all("#store-map") == []
    assert page.headers["permissions-policy"] == "camera=(), microphone=(), geolocation=(self)"
    assert client.get("/lines").headers["permissions-policy"] == "camera=(), microphone=(), geolocation=()"


def test_search_by_postcode_in_english(client, db, at):
    seed_demo_stores(db)
    found = cards(client.get("/stores", params={"q": "75013", "lang": "en"}).text)
    assert [c["code"] for c in found[:3]] == ["DEMO-PAR-CHINATOWN", "DEMO-PAR-OLYMPIADES", "DEMO-PAR-MONTPARNASSE"]
    assert found[0] == {
        "code": "DEMO-PAR-CHINATOWN", "name": "Porte de Choisy Mobile (démo)", "distance": "140 m",
        "hours": "Open right now · closes at 7:30 PM", "spoken": "Languages spoken: Chinese and French", "demo": True,
        "links": ["tel:+33140000103", "https://www.openstreetmap.org/directions?to=48.82280%2C2.36440",
                  "geo:48.82280,2.36440"]}
    assert found[2]["distance"] == "3.8 km"


def test_search_by_city_in_french_and_chinese(client, db, at):
    seed_demo_stores(db)
    at(SUNDAY)  # 13:00 in Lyon: both Lyon stores are closed on Sundays
    fr = cards(client.get("/stores", params={"q": "lyon", "lang": "fr"}).text)
    assert [(c["code"], c["distance"], c["hours"], c["spoken"]) for c in fr[:2]] == [
        ("DEMO-LYO-PART-DIEU", "570 m", "Fermé en ce moment · ouvre lundi à 09:00", "Langues parlées : français et anglais"),
        ("DEMO-LYO-GUILLOTIERE", "570 m", "Fermé en ce moment · ouvre lundi à 10:00", "Langues parlées : chinois, français et arabe")]
    zh = cards(client.get("/stores", params={"q": "Lyon", "lang": "zh-CN"}).text)
    assert [(c["distance"], c["hours"], c["spoken"]) for c in zh[1:2]] == [
        ("570米", "现在已关门 · 星期一 10:00 开门", "使用语言：中文、法语和阿拉伯语")]


def test_near_me_lists_the_nearest_and_marks_the_demo(client, db, at):
    seed_demo_stores(db)
    make_store(db, now=T0, code="REAL-ONE", latitude=48.8722, longitude=2.3766)
    at(datetime(2027, 3, 6, 2, 30, tzinfo=UTC))  # Saturday 03:30: only the late-night shop is open
    page = client.get("/stores", params={"lat": "48.8722", "lon": "2.3766", "lang": "en"}).text
    found = cards(page)
    assert [(c["code"], c["distance"], c["hours"], c["demo"]) for c in found[:3]] == [
        ("REAL-ONE", "0 m", "Closed now · opens at 9:00 AM", False),
        ("DEMO-PAR-BELLEVILLE-NUIT", "100 m", "Open right now · closes at 4:00 AM", True),
        ("DEMO-PAR-BELLEVILLE", "340 m", "Closed now · opens at 10:00 AM", True)]
    soup = parse(page)
    assert soup.one("h2").text() == "Stores near you"
    assert soup.one(".demo-note").text().startswith("demo data These stores are made up")
    assert soup.one("#store-map")["data-tiles-url"] == ""
    assert soup.one("#store-map")["data-base-layer"] == "/static/vendor/leaflet/france.geojson"


def test_nothing_found_says_so(client, db, at):
    seed_demo_stores(db)
    soup = parse(client.get("/stores", params={"q": "Quimper", "lang": "fr"}).text)
    assert soup.one("p.notice").text() == (
        "Aucun magasin trouvé pour « Quimper ». Essayez un code postal (comme 75013) ou une ville.")


@pytest.mark.parametrize("query", ["lat=100&lon=2", "q=" + "x" * 81, "lat=abc&lon=2"])
def test_bad_parameters_are_a_4xx_page(client, query):
    page = client.get(f"/stores?{query}&lang=en")
    assert page.status_code == 422 and "<html" in page.text


def test_with_a_tile_server_the_map_uses_it_and_the_policy_allows_its_images(settings, db, at):
    from fastapi.testclient import TestClient

    from simkeep.main import create_app

    seed_demo_stores(db)
    tiled = settings.model_copy(update={"map_tiles_url": "https://{s}.tile.example.org/{z}/{x}/{y}.png",
                                        "map_tiles_attribution": "© Example contributors"})
    with TestClient(create_app(tiled, db)) as client:
        page = client.get("/stores", params={"q": "75013", "lang": "en"})
    map_box = parse(page.text).one("#store-map")
    assert (map_box["data-tiles-url"], map_box["data-tiles-attribution"]) == (
        "https://{s}.tile.example.org/{z}/{x}/{y}.png", "© Example contributors")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["img-src"] == "'self' data: https://*.tile.example.org"
    assert policy["style-src"] == "'self'" and policy["script-src"] == "'self'"
