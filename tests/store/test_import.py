"""`simkeep store import` and `simkeep store list`: CSV and GeoJSON, upsert by code, dry runs, every bad row
reported with its line number and nothing changed."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from simkeep.audit.models import AuditEntry
from simkeep.store import directory
from simkeep.store.models import Store

HEADER = ("code,name,address,postcode,city,country,latitude,longitude,phone,timezone,mon,tue,wed,thu,fri,sat,sun,"
          "closed_on,operators,languages,services,demo\n")
BELLEVILLE = ('PAR-BELLEVILLE,Tabac de Belleville,12 rue de Belleville,75020,Paris,FR,48.8722,2.3766,+33143580000,'
              'Europe/Paris,09:00-19:00,09:00-19:00,09:00-19:00,09:00-19:00,09:00-19:00,10:00-13:00 14:00-18:00,,'
              '2026-12-25,fr-orange-mobicarte,zh_CN fr,renewal voucher_sale,yes\n')
NUIT = ('LYO-NUIT,Épicerie de nuit,3 rue Mercière,69002,Lyon,FR,45.7620,4.8330,,Europe/Paris,20:00-02:00,'
        '20:00-02:00,20:00-02:00,20:00-02:00,20:00-03:00,20:00-03:00,closed,,,fr zh-CN,renewal sim_sale,no\n')


def stores(db) -> list[tuple]:
    with db.transaction(write=False) as session:
        return [(s.code, s.name, s.city) for s in session.scalars(select(Store).order_by(Store.code))]


def audits(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(AuditEntry))


def test_a_csv_adds_stores_then_updates_them_by_code(cli, db, tmp_path):
    path = tmp_path / "stores.csv"
    path.write_text(HEADER + BELLEVILLE + NUIT, encoding="utf-8")
    out = cli("store", "import", str(path))
    assert "2 stores were created, 0 were updated, 0 unchanged" in out
    assert stores(db) == [("LYO-NUIT", "Épicerie de nuit", "Lyon"), ("PAR-BELLEVILLE", "Tabac de Belleville", "Paris")]
    with db.transaction(write=False) as session:
        nuit = directory.get(session, "lyo-nuit")
        assert nuit.hours == {day: [["20:00", "02:00"]] for day in ("mon", "tue", "wed", "thu")} | {
            "fri": [["20:00", "03:00"]], "sat": [["20:00", "03:00"]]}
        assert (nuit.languages, nuit.services, nuit.demo, nuit.phone) == (["fr", "zh_CN"], ["renewal", "sim_sale"],
                                                                           False, None)
        belleville = directory.get(session, "PAR-BELLEVILLE")
        assert belleville.hours["sat"] == [["10:00", "13:00"], ["14:00", "18:00"]]
        assert "sun" not in belleville.hours
        assert (belleville.closed_on, belleville.operators, belleville.demo) == (["2026-12-25"],
                                                                               ["fr-orange-mobicarte"], True)
    path.write_text(HEADER + BELLEVILLE.replace("Tabac de Belleville", "Tabac Belleville") + NUIT, encoding="utf-8")
    assert "0 stores would be created, 1 would be updated, 1 unchanged (dry run" in cli(
        "store", "import", str(path), "--dry-run")
    assert stores(db)[1] == ("PAR-BELLEVILLE", "Tabac de Belleville", "Paris")
    assert "0 stores were created, 1 were updated, 1 unchanged" in cli("store", "import", str(path))
    assert stores(db)[1] == ("PAR-BELLEVILLE", "Tabac Belleville", "Paris")
    listed = cli("store", "list")
    assert "PAR-BELLEVILLE" in listed and "LYO-NUIT" in listed and "2 stores" in listed
    assert "1 stores" in cli("store", "list", "lyon")


def test_one_bad_row_changes_nothing_and_every_problem_has_its_line(cli, db, tmp_path):
    path = tmp_path / "stores.csv"
    bad_hours = NUIT.replace("LYO-NUIT", "LYO-2").replace("20:00-03:00,20:00-03:00,closed",
                                                          "20:00-03:00,25:00-03:00,closed")
    bad_place = BELLEVILLE.replace("PAR-BELLEVILLE", "PAR-3").replace("48.8722", "98.1").replace(
        "fr-orange-mobicarte", "fr-nobody").replace("+33143580000", "+3314358")
    path.write_text(HEADER + BELLEVILLE + bad_hours + bad_place + BELLEVILLE, encoding="utf-8")
    before = audits(db)
    out = cli("store", "import", str(path), code=1)
    assert "line 3: hours: sat: each span is two times HH:MM" in out
    assert ("line 4: latitude: a number from -90 to 90; phone: an E.164 number, for example +33143580000; "
            "operators: not in the catalog: fr-nobody") in out
    assert "line 5: code: also on line 2" in out
    assert "3 row(s) not valid: nothing was imported" in out
    assert stores(db) == [] and audits(db) == before


def test_geojson_points_with_properties(cli, db, tmp_path):
    path = tmp_path / "stores.geojson"
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [5.3698, 43.2965]},
                 "properties": {"code": "MRS-NOAILLES", "name": "Bazar Noailles", "address": "5 rue d'Aubagne",
                                "postcode": "13001", "city": "Marseille", "phone": "+33491000000",
                                "hours": {"mon": [["09:00", "19:00"]], "sun": []}, "languages": ["fr", "ar"],
                                "services": ["renewal"], "operators": ["fr-sfr-la-carte"], "demo": True}},
                {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                 "properties": {"code": "BAD-LINE", "name": "x", "address": "x", "postcode": "1", "city": "x"}}]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    out = cli("store", "import", str(path), code=1)
    assert "line 2: latitude: a number from -90 to 90; longitude: a number from -180 to 180" in out
    assert stores(db) == []
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features[:1]}), encoding="utf-8")
    assert "1 stores were created" in cli("store", "import", str(path))
    with db.transaction(write=False) as session:
        store = directory.get(session, "MRS-NOAILLES")
        assert (store.latitude, store.longitude, store.hours, store.languages, store.city_key) == (
            43.2965, 5.3698, {"mon": [["09:00", "19:00"]]}, ["fr", "ar"], "marseille")


def test_a_file_that_is_not_a_feature_collection_is_refused(cli, db, tmp_path):
    path = tmp_path / "stores.geojson"
    path.write_text('{"type": "Feature"}', encoding="utf-8")
    assert "a GeoJSON FeatureCollection is expected" in cli("store", "import", str(path), code=1)
    csv_path = tmp_path / "stores.csv"
    csv_path.write_text("code,name\nX,Y\n", encoding="utf-8")
    assert "the header lacks address, city, latitude, longitude, postcode" in cli("store", "import", str(csv_path),
                                                                                    code=1)
    assert stores(db) == []
