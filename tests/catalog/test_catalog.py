import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from simkeep.catalog import service
from simkeep.catalog.models import Offer, Operator
from simkeep.cli import app
from simkeep.config import get_settings
from simkeep.core.errors import CatalogError
from tests.factories.snapshot import snapshot

BUNDLED = json.loads(service.read_catalog().model_dump_json())


def write(tmp_path: Path, mutate) -> Path:
    data = json.loads(json.dumps(BUNDLED))
    mutate(data)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    return path


def operator(data: dict, operator_id: str) -> dict:
    return next(op for op in data["operators"] if op["id"] == operator_id)


def test_bundled_catalog_keeps_sources_and_loads(db):
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Operator)) == 14
        assert session.scalar(select(func.count()).select_from(Offer)) == 42
        orange = session.get(Operator, "fr-orange-mobicarte")
        offer = session.get(Offer, "fr-orange-mobicarte-100")
    assert (orange.currency, orange.timezone, orange.grace_days, orange.quarantine_days) == ("EUR", "Europe/Paris", 180, 45)
    assert orange.reminder_offsets == [30, 7, 3, 1, 0]
    assert orange.provenance["grace_days"] == {"status": "derived", "note": "'6 mois pour recharger', incoming calls still possible"}
    assert (offer.price_minor, offer.bonus_minor, offer.validity_days) == (10000, 5000, 150)
    assert offer.provenance["validity_days"]["status"] == "derived"
    countries = {op["country"] for op in BUNDLED["operators"]}
    assert countries >= {"FR", "GB", "HK", "CN", "US"}


def test_french_quarantine_outside_arcep_bounds_is_refused_naming_the_field(tmp_path):
    path = write(tmp_path, lambda d: operator(d, "fr-sfr-la-carte")["quarantine_days"].update(value=30))
    with pytest.raises(CatalogError) as caught:
        service.read_catalog(path)
    assert caught.value.message == (
        "operators[1] (operator fr-sfr-la-carte): quarantine_days: FR operators must hold a number 45-120 days "
        "before reassigning it, got 30")


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["operators"][0].update(currency="EUX"), "operators[0].currency (operator fr-orange-mobicarte): unknown ISO 4217 currency 'EUX'"),
    (lambda d: d["operators"][0].update(timezone="Europe/Atlantis"), "operators[0].timezone (operator fr-orange-mobicarte): unknown IANA time zone 'Europe/Atlantis'"),
    (lambda d: d["operators"][0]["offers"][0]["price"].update(value="-5"), "operators[0].offers[0].price (operator fr-orange-mobicarte): must not be negative"),
    (lambda d: d["operators"][0]["offers"][0]["validity_days"].update(status="guessed"), "operators[0].offers[0].validity_days.status (operator fr-orange-mobicarte): Input should be 'sourced', 'derived' or 'assumed'"),
    (lambda d: d["operators"][0].pop("grace_days"), "operators[0].grace_days (operator fr-orange-mobicarte): Field required"),
])
def test_malformed_catalogs_name_the_field(tmp_path, mutate, expected):
    with pytest.raises(CatalogError) as caught:
        service.read_catalog(write(tmp_path, mutate))
    assert caught.value.message == expected


def test_cli_refuses_a_bad_catalog_and_loads_nothing(db, tmp_path, monkeypatch):
    monkeypatch.setenv("SIMKEEP_DATABASE_URL", db.url)
    get_settings.cache_clear()
    before = snapshot(db)
    path = write(tmp_path, lambda d: operator(d, "fr-orange-mobicarte").update(brand="Changed") or
                 operator(d, "fr-sfr-la-carte")["quarantine_days"].update(value=121))
    try:
        result = CliRunner().invoke(app, ["catalog", "load", "--file", str(path)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "quarantine_days" in result.output and "fr-sfr-la-carte" in result.output
    assert snapshot(db) == before
    with db.transaction(write=False) as session:
        assert session.get(Operator, "fr-orange-mobicarte").brand == "Orange"


def test_display_names_are_spelled_as_the_brands_write_them(db):
    """The shared source keeps to ASCII ("Carte prepayee", "Forfait 2 EUR"); what readers see is spelled properly."""
    with db.transaction(write=False) as session:
        operators = session.scalars(select(Operator)).all()
    names = {op.id: f"{op.brand} {op.product}" for op in operators}
    assert names["fr-bouygues-carte"] == "Bouygues Telecom Carte prépayée"
    assert names["fr-laposte-carte"] == "La Poste Mobile Carte prépayée"
    assert names["fr-lebara"] == "Lebara Carte prépayée"
    assert names["fr-free-2eur"] == "Free Mobile Forfait 2\u00a0€"
    assert names["cn-cmcc-8yuan"] == "China Mobile 8元保号套餐（深圳）"
    assert names["hk-shinetown-huamei"] == "Shinetown 華美流動儲值卡"  # Hong Kong writes Traditional
    # No French product is left in ASCII French ("prepayee"), English ("Prepaid PAYG") or a currency code.
    french = [op.product for op in operators if op.country == "FR"]
    assert [name for name in french if re.search(r"(?i)prepay|prepaid|payg|\bEUR\b", name)] == []
