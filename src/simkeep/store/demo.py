"""The demo's store directory: 25 made-up stores in Paris, Lyon, Marseille, Lille, Toulouse, Bordeaux, Nice and
Strasbourg (demo_stores.csv: every one marked demo, so the finder says "demo data"), with a late-night shop whose
hours run past midnight, Sunday closures, and many where Chinese is spoken. Imported like any directory file:
upsert by code, so a second `make run` changes nothing."""

from __future__ import annotations

from importlib import resources

from sqlalchemy.orm import Session

from simkeep.store import directory

DEMO_FILE = "demo_stores.csv"


def rows() -> list[directory.ImportRow]:
    return directory.read_csv(resources.files("simkeep.store").joinpath(DEMO_FILE).read_text(encoding="utf-8"))


def seed_stores(session: Session, *, now) -> directory.ImportResult:
    return directory.import_stores(session, rows(), actor="demo", reason="demo data", now=now)
