"""The public store finder: GET /api/v1/stores?lat=&lon= or ?q=<postcode or city>. No token: it shows what the
portal's /stores page shows to anyone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from simkeep.core import clock
from simkeep.core.errors import InvalidInput
from simkeep.store import hours, nearest
from simkeep.store.nearest import Found
from simkeep.store.schemas import CenterOut, Directions, OpenNow, StoreOut, StoresOut
from simkeep.web.deps import Lane
from simkeep.web.openapi import errors

router = APIRouter(prefix="/api/v1", tags=["stores"])


class WhereMissing(InvalidInput):
    code, message = "store_search_missing", "Give lat and lon together, or q (a postcode or a city)."


@router.get("/stores", response_model=StoresOut, responses=errors({
    422: "`store_search_missing`: neither lat and lon together nor q"}, authenticated=False),
    summary="Stores near a point, a postcode or a city",
    description="The nearest stores that renew lines over the counter, nearest first, each with its distance, "
                "whether it is open now and when that changes (in its own time zone), the languages spoken, its "
                "services and operators, and links for directions. Give `lat` and `lon` (a point, for example "
                "the browser's position), or `q`: a postcode or its first digits (`75013`, `750`) or a city "
                "(`Lyon`, `saint-etienne`), whose stores' centroid is the center.")
async def find_stores(
    db: Lane,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="latitude, degrees", examples=[48.8674])] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="longitude, degrees", examples=[2.3636])] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=80, description="a postcode (or its start) or a city",
                                   examples=["75013"])] = None,
    limit: Annotated[int, Query(ge=1, le=50, description="how many stores")] = 10,
) -> StoresOut:
    if (lat is None) != (lon is None) or (lat is None and not (q or "").strip()):
        raise WhereMissing()
    now = clock.now()
    found = await db.read(lambda session: nearest.find(session, latitude=lat, longitude=lon, query=q, limit=limit))
    return shown(found, now)


def shown(found: Found, now: datetime) -> StoresOut:
    center = None if found.center is None else CenterOut(latitude=found.center.latitude,
                                                         longitude=found.center.longitude, source=found.source)
    return StoresOut(center=center, stores=[_store(n, now) for n in found.stores])


def _store(nearby: nearest.Nearby, now: datetime) -> StoreOut:
    s = nearby.store
    state = hours.of_store(s, now)
    return StoreOut(
        code=s.code, name=s.name, address=s.address, postcode=s.postcode, city=s.city, country=s.country,
        latitude=s.latitude, longitude=s.longitude, phone=s.phone, timezone=s.timezone,
        distance_km=round(nearby.distance_km, 3),
        open_now=OpenNow(open=state.open, next_change_at=state.change_at.astimezone(UTC) if state.change_at else None,
                         next_change_local=state.change_local.isoformat() if state.change_local else None),
        hours=s.hours, closed_on=s.closed_on, languages=s.languages, services=s.services, operators=s.operators,
        directions=Directions(**nearest.directions(s.latitude, s.longitude)), demo=s.demo)
