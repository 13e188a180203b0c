"""The directory service: every field checked (nothing saved when one is wrong), updates and closings audited."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from simkeep.audit.models import AuditEntry
from simkeep.store import directory
from simkeep.store.directory import StoreAlreadyClosed, StoreExists, StoreInvalid, StoreUnknown
from simkeep.store.models import Store
from tests.conftest import T0
from tests.factories.stores import BELLEVILLE

LATER = T0.replace(hour=15)


def counts(db) -> tuple[int, int]:
    with db.transaction(write=False) as session:
        return (session.scalar(select(func.count()).select_from(Store)),
                session.scalar(select(func.count()).select_from(AuditEntry)))


def create(db, fields=BELLEVILLE):
    with db.transaction() as session:
        return directory.create_store(session, fields=fields, actor="staff:ada", reason="new partner", now=T0)


@pytest.mark.parametrize(("change", "problem"), [
    ({"code": "x"}, ("code", "2 to 32 capital letters, digits, - or _ (for example PAR-BELLEVILLE)")),
    ({"name": " "}, ("name", "required, 120 characters at most")),
    ({"latitude": 90.5}, ("latitude", "a number from -90 to 90")),
    ({"longitude": -180.01}, ("longitude", "a number from -180 to 180")),
    ({"latitude": float("nan")}, ("latitude", "a number from -90 to 90")),
    ({"timezone": "Europe/Lutece"}, ("timezone", "an IANA time zone, for example Europe/Paris")),
    ({"phone": "0143580000"}, ("phone", "an E.164 number, for example +33143580000")),
    ({"phone": "+331435800"}, ("phone", "an E.164 number, for example +33143580000")),
    ({"hours": {"lun": [["09:00", "19:00"]]}}, ("hours", "'lun' is not a weekday (mon, tue, wed, thu, fri, sat, sun)")),
    ({"hours": {"mon": [["9:00", "19:00"]]}}, ("hours", "mon: each span is two times HH:MM, for example 09:00-19:00")),
    ({"hours": {"mon": [["09:00", "09:00"]]}},
     ("hours", "mon: a span cannot start and end at the same time, nor start at 24:00")),
    ({"hours": {"mon": [["09:00", "13:00"], ["12:00", "19:00"]]}}, ("hours", "mon: spans overlap")),
    ({"hours": {"mon": [["09:00", "19:00"], ["18:00", "02:00"]]}}, ("hours", "mon: spans overlap")),
    ({"hours": {"fri": [["18:00", "01:00"], ["22:00", "03:00"]]}},
     ("hours", "fri: only the last span of a day may run past midnight")),
    ({"closed_on": ["2026-12-32"]}, ("closed_on", "ISO dates, for example 2026-12-25")),
    ({"languages": ["klingon"]}, ("languages", "language identifiers Babel knows, for example zh_CN, fr, en")),
    ({"services": ["renewal", "repairs"]}, ("services", "among renewal, sim_sale, voucher_sale")),
    ({"operators": ["fr-orange-mobicarte", "xx-nobody"]}, ("operators", "not in the catalog: xx-nobody")),
])
def test_a_wrong_field_saves_nothing(db, change, problem):
    before = counts(db)
    with pytest.raises(StoreInvalid) as caught:
        create(db, replace(BELLEVILLE, **change))
    assert caught.value.problems == [problem]
    assert (caught.value.code, caught.value.status) == ("store_invalid", 422)
    assert counts(db) == before


def test_created_normalised_and_audited(db):
    store = create(db, replace(BELLEVILLE, code=" par-belleville ", languages=["zh-CN", "fr", "zh_CN"],
                               hours={"sat": [["10:00", "18:00"]], "mon": [["22:00", "02:00"]], "sun": []}))
    assert (store.code, store.languages, store.city_key) == ("PAR-BELLEVILLE", ["zh_CN", "fr"], "paris")
    assert store.hours == {"mon": [["22:00", "02:00"]], "sat": [["10:00", "18:00"]]}
    with db.transaction(write=False) as session:
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.actor, entry.action, entry.subject_id, entry.reason) == (
            "staff:ada", "store.created", "PAR-BELLEVILLE", "new partner")
    with pytest.raises(StoreExists):
        create(db)
    assert counts(db) == (1, 1)


def test_update_and_close(db):
    create(db)
    with db.transaction() as session:
        store = directory.update_store(session, code="par-belleville", actor="staff:ada", reason="new hours",
                                       fields=replace(BELLEVILLE, name="Tabac Belleville", city="Paris 20e",
                                                      closed_on=["2026-12-25", "2026-05-01"], currency="USD"),
                                       now=LATER)
        assert (store.name, store.city_key, store.closed_on, store.currency, store.updated_at) == (
            "Tabac Belleville", "paris 20e", ["2026-05-01", "2026-12-25"], "EUR", LATER)
    with db.transaction() as session:
        store = directory.close_store(session, code="PAR-BELLEVILLE", actor="staff:ada", reason="moved away",
                                      now=LATER)
        assert store.closed_at == LATER
    with db.transaction() as session, pytest.raises(StoreAlreadyClosed):
        directory.close_store(session, code="PAR-BELLEVILLE", actor="staff:ada", reason="again", now=LATER)
    with db.transaction() as session, pytest.raises(StoreUnknown):
        directory.close_store(session, code="NOPE", actor="staff:ada", reason="x", now=LATER)
    with db.transaction(write=False) as session:
        assert [(e.action, e.reason, e.details) for e in directory.audit.for_subject(session, "store",
                                                                                    "PAR-BELLEVILLE")] == [
            ("store.created", "new partner", {"name": "Tabac de Belleville", "city": "Paris"}),
            ("store.updated", "new hours", {"changed": ["city", "closed_on", "name"]}),
            ("store.closed", "moved away", {})]


def test_a_refused_update_changes_nothing(db):
    create(db)
    with db.transaction() as session, pytest.raises(StoreInvalid):
        directory.update_store(session, code="PAR-BELLEVILLE", actor="staff:ada", reason="x",
                               fields=replace(BELLEVILLE, name="Other", latitude=123.0), now=LATER)
    with db.transaction(write=False) as session:
        store = directory.get(session, "PAR-BELLEVILLE")
        assert (store.name, store.latitude, store.updated_at) == ("Tabac de Belleville", 48.8722, T0)
    assert counts(db) == (1, 1)


def test_search_in_the_list(db):
    create(db)
    create(db, replace(BELLEVILLE, code="LYO-1", name="Lyon Presqu'île", city="Lyon", postcode="69002"))
    with db.transaction(write=False) as session:
        assert [s.code for s in directory.list_stores(session)] == ["LYO-1", "PAR-BELLEVILLE"]
        assert [s.code for s in directory.list_stores(session, search="690")] == ["LYO-1"]
        assert [s.code for s in directory.list_stores(session, search="belle")] == ["PAR-BELLEVILLE"]
        assert [s.code for s in directory.list_stores(session, search="LYON")] == ["LYO-1"]
