"""The stores nearest a point, or nearest the stores of a postcode or a city. Closed stores are never found.

- PostgreSQL: `ORDER BY ll_to_earth(latitude, longitude) <-> ll_to_earth(:lat, :lon) LIMIT k` walks the GiST index
  ix_stores_earth (earthdistance over cube, migration 0009) from the nearest point outwards: a few pages read,
  whatever the number of stores. `<->` is the straight-line distance between points on the sphere, which orders
  exactly as the distance along the surface does; that distance is earth_distance, rescaled from earthdistance's
  earth radius (earth(), 6378.168 km) to the mean radius used everywhere else (6371.0088 km), so both databases
  give the same figures.
- SQLite (no spatial index at hand): a bounding box on the (latitude, longitude) index, widened (×4) until it holds
  k stores within the box's inscribed radius, then the exact haversine distance in Python. Near a pole or across
  the antimeridian the box takes every longitude: slower there, never wrong.

Ties (two stores at the same distance, to the millimetre) are ordered by code on both."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from simkeep.store.directory import city_key
from simkeep.store.models import Store

EARTH_RADIUS_KM = 6371.0088  # the mean earth radius (IUGG)
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
MAX_LIMIT = 50
TIE_MARGIN = 8  # PostgreSQL: rows read past k, so that stores tied with the k-th are ordered by code too
POSTCODE = re.compile(r"^\d{2,5}$|^[0-9][0-9AB]\d{0,3}$")


@dataclass(frozen=True)
class Nearby:
    store: Store
    distance_km: float


@dataclass(frozen=True)
class Center:
    latitude: float
    longitude: float
    matches: int  # how many stores the postcode or city matched


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest(session: Session, *, latitude: float, longitude: float, limit: int = 10) -> list[Nearby]:
    """The `limit` open stores nearest the point, nearest first."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("coordinates out of range")
    limit = max(1, min(limit, MAX_LIMIT))
    if session.get_bind().dialect.name == "postgresql":
        return _nearest_postgresql(session, latitude, longitude, limit)
    return _nearest_sqlite(session, latitude, longitude, limit)


def _nearest_postgresql(session: Session, latitude: float, longitude: float, limit: int) -> list[Nearby]:
    here = func.ll_to_earth(latitude, longitude)
    there = func.ll_to_earth(Store.latitude, Store.longitude)
    distance = (func.earth_distance(there, here) / func.earth() * EARTH_RADIUS_KM * 1000).label("distance_m")
    rows = session.execute(
        select(Store, distance).where(Store.closed_at.is_(None))
        .order_by(there.op("<->")(here)).limit(limit + TIE_MARGIN)).all()
    found = [Nearby(store=store, distance_km=float(meters) / 1000) for store, meters in rows]
    found.sort(key=_order)
    return found[:limit]


def _order(nearby: Nearby) -> tuple[float, str]:
    """Nearest first; stores within a millimetre of each other (a tie, give or take floating point) by code."""
    return round(nearby.distance_km, 6), nearby.store.code


def _box(latitude: float, longitude: float, radius_km: float):
    dlat = radius_km / KM_PER_DEGREE
    south, north = latitude - dlat, latitude + dlat
    conditions = [Store.latitude.between(max(-90.0, south), min(90.0, north))]
    if south > -90 and north < 90:
        widest = max(abs(south), abs(north))
        dlon = radius_km / (KM_PER_DEGREE * math.cos(math.radians(widest)))
        if dlon < 180 and longitude - dlon >= -180 and longitude + dlon <= 180:
            conditions.append(Store.longitude.between(longitude - dlon, longitude + dlon))
    return and_(*conditions)


def _nearest_sqlite(session: Session, latitude: float, longitude: float, limit: int) -> list[Nearby]:
    radius = 5.0
    while True:
        everything = radius >= math.pi * EARTH_RADIUS_KM
        # Only the columns the distance needs: a box in a dense city holds thousands of candidates.
        query = select(Store.id, Store.code, Store.latitude, Store.longitude).where(Store.closed_at.is_(None))
        if not everything:
            query = query.where(_box(latitude, longitude, radius))
        distances = ((haversine_km(latitude, longitude, lat, lon), code, store_id)
                     for store_id, code, lat, lon in session.execute(query))
        found = sorted((round(distance, 6), code, store_id, distance) for distance, code, store_id in distances)
        # Every store within `radius` is inside the box: the first k are right once k of them are that close.
        if everything or sum(1 for row in found if row[3] <= radius) >= limit:
            chosen = found[:limit]
            stores = {s.id: s for s in session.scalars(select(Store).where(Store.id.in_([r[2] for r in chosen])))}
            return [Nearby(store=stores[r[2]], distance_km=r[3]) for r in chosen]
        radius *= 4


def center(session: Session, query: str) -> Center | None:
    """Where a postcode (or its first digits: "750" for Paris) or a city is: the centroid of its open stores."""
    term = "".join(c for c in query if c.isprintable()).strip()
    if not term:
        return None
    if POSTCODE.match(term):
        where = Store.postcode.startswith(term.upper())
    else:
        key = city_key(term)
        if not key:
            return None
        exact = session.scalar(select(func.count()).select_from(Store)
                               .where(Store.city_key == key, Store.closed_at.is_(None)))
        where = Store.city_key == key if exact else Store.city_key.startswith(key)
    count, lat, lon = session.execute(select(func.count(), func.avg(Store.latitude), func.avg(Store.longitude))
                                      .where(where, Store.closed_at.is_(None))).one()
    if not count:
        return None
    return Center(latitude=float(lat), longitude=float(lon), matches=int(count))


def explain(session: Session, *, latitude: float, longitude: float, limit: int = 10) -> str:
    """PostgreSQL's plan for the nearest query (tests and the bench check that it walks ix_stores_earth)."""
    here = func.ll_to_earth(latitude, longitude)
    there = func.ll_to_earth(Store.latitude, Store.longitude)
    query = (select(Store.id).where(Store.closed_at.is_(None))
             .order_by(there.op("<->")(here)).limit(limit + TIE_MARGIN))
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))


@dataclass(frozen=True)
class Found:
    center: Center | None  # None: the postcode or city matched no store
    source: Literal["point", "postcode", "city"]
    stores: list[Nearby]


def find(session: Session, *, latitude: float | None = None, longitude: float | None = None,
         query: str | None = None, limit: int = 10) -> Found:
    """The finder's one question: the stores nearest a point, or nearest the stores of a postcode or city."""
    if latitude is not None and longitude is not None:
        return Found(center=Center(latitude=latitude, longitude=longitude, matches=0), source="point",
                     stores=nearest(session, latitude=latitude, longitude=longitude, limit=limit))
    term = (query or "").strip()
    source: Literal["postcode", "city"] = "postcode" if POSTCODE.match(term) else "city"
    where = center(session, term)
    if where is None:
        return Found(center=None, source=source, stores=[])
    return Found(center=where, source=source,
                 stores=nearest(session, latitude=where.latitude, longitude=where.longitude, limit=limit))


def directions(latitude: float, longitude: float) -> dict[str, str]:
    """Links that open directions to a store: a geo: URI (phones open their maps app) and OpenStreetMap's page."""
    return {"geo": f"geo:{latitude:.5f},{longitude:.5f}",
            "osm": f"https://www.openstreetmap.org/directions?to={latitude:.5f}%2C{longitude:.5f}"}
