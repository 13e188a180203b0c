"""The nearest open stores: the same exact order and distances on SQLite (bounding box + haversine) and PostgreSQL
(the earthdistance GiST index), ties by code, closed stores skipped, poles and the antimeridian."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from simkeep.store import directory, nearest
from tests.conftest import PG_URL, T0
from tests.factories.stores import make_store

PLACES = {  # code: (latitude, longitude, postcode, city)
    "PAR-BELLEVILLE": (48.8722, 2.3766, "75020", "Paris"),
    "PAR-CHATEAU-ROUGE": (48.8867, 2.3492, "75018", "Paris"),
    "PAR-GARE-DU-NORD": (48.8809, 2.3553, "75010", "Paris"),
    "PAR-CHINATOWN": (48.8262, 2.3622, "75013", "Paris"),
    "LYO-GUILLOTIERE": (45.7540, 4.8430, "69007", "Lyon"),
    "MRS-NOAILLES": (43.2965, 5.3817, "13001", "Marseille"),
    "STE-CENTRE": (45.4397, 4.3872, "42000", "Saint-Étienne"),
}


@pytest.fixture
def places(db):
    for code, (lat, lon, postcode, city) in PLACES.items():
        make_store(db, now=T0, code=code, latitude=lat, longitude=lon, postcode=postcode, city=city)


def found(db, lat, lon, limit=10):
    with db.transaction(write=False) as session:
        return [(n.store.code, round(n.distance_km, 3)) for n in nearest.nearest(session, latitude=lat, longitude=lon,
                                                                                    limit=limit)]


def test_nearest_order_and_distances(db, places):
    # From République (48.8674, 2.3636).
    assert found(db, 48.8674, 2.3636, limit=5) == [
        ("PAR-BELLEVILLE", 1.09), ("PAR-GARE-DU-NORD", 1.619), ("PAR-CHATEAU-ROUGE", 2.391),
        ("PAR-CHINATOWN", 4.582), ("LYO-GUILLOTIERE", 393.384)]
    assert found(db, 43.30, 5.40, limit=2) == [("MRS-NOAILLES", 1.531), ("STE-CENTRE", 251.169)]


def test_the_whole_directory_when_fewer_stores_than_asked(db, places):
    assert [code for code, _ in found(db, 0.0, 0.0, limit=50)] == [
        "MRS-NOAILLES", "STE-CENTRE", "LYO-GUILLOTIERE", "PAR-CHINATOWN", "PAR-BELLEVILLE", "PAR-GARE-DU-NORD",
        "PAR-CHATEAU-ROUGE"]


def test_ties_go_by_code_and_closed_stores_are_not_found(db, places):
    make_store(db, now=T0, code="TIE-B", latitude=10.0, longitude=20.01, postcode="00001", city="Tie")
    make_store(db, now=T0, code="TIE-A", latitude=10.0, longitude=19.99, postcode="00001", city="Tie")
    make_store(db, now=T0, code="TIE-C", latitude=10.0, longitude=19.99, postcode="00001", city="Tie")
    assert found(db, 10.0, 20.0, limit=3) == [("TIE-A", 1.095), ("TIE-B", 1.095), ("TIE-C", 1.095)]
    with db.transaction() as session:
        directory.close_store(session, code="TIE-A", actor="test", reason="left the network", now=T0)
    assert found(db, 10.0, 20.0, limit=3) == [("TIE-B", 1.095), ("TIE-C", 1.095), ("MRS-NOAILLES", 3963.602)]


def test_poles_and_the_antimeridian(db):
    make_store(db, now=T0, code="EAST", latitude=0.0, longitude=179.9)
    make_store(db, now=T0, code="NORTH", latitude=89.0, longitude=-45.0)
    assert found(db, 0.0, -179.9) == [("EAST", 22.239), ("NORTH", 10086.045)]
    assert found(db, 90.0, 0.0) == [("NORTH", 111.195), ("EAST", 10007.557)]
    assert found(db, -90.0, 180.0) == [("EAST", 10007.557), ("NORTH", 19903.919)]
    with db.transaction(write=False) as session, pytest.raises(ValueError):
        nearest.nearest(session, latitude=91.0, longitude=0.0)


def test_a_postcode_prefix_or_a_city_gives_the_centroid_of_its_stores(db, places):
    with db.transaction(write=False) as session:
        paris = nearest.center(session, "750")
        assert (round(paris.latitude, 4), round(paris.longitude, 4), paris.matches) == (48.8665, 2.3608, 4)
        assert nearest.center(session, "75013").matches == 1
        ste = nearest.center(session, "saint etienne")
        assert (ste.latitude, ste.longitude, ste.matches) == (45.4397, 4.3872, 1)
        assert nearest.center(session, "SAINT-ÉTIENNE") == ste
        assert nearest.center(session, "Mars").matches == 1  # no city is "mars": the cities it begins
        assert nearest.center(session, "Quimper") is None
        assert nearest.center(session, "  ") is None
        assert nearest.center(session, "29000") is None


@pytest.mark.skipif(not PG_URL, reason="the earthdistance index exists on PostgreSQL only")
def test_postgresql_walks_the_gist_index(db, places):
    with db.transaction(write=False) as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))  # seven rows: the planner would rather scan
        plan = nearest.explain(session, latitude=48.8674, longitude=2.3636)
    assert "ix_stores_earth" in plan
