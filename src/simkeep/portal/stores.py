"""/stores: the store finder. Server-rendered (search by postcode or city works without JavaScript); stores.js adds
"near me" (the browser's position, asked only on a click, sent back as ?lat=&lon=) and the map: Leaflet vendored
under /static/vendor/leaflet with an offline base layer of France and its neighbours, or the tiles of
SIMKEEP_MAP_TILES_URL when it is set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.units import format_unit
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from simkeep.core import clock
from simkeep.locale.formats import phone as shown_phone
from simkeep.portal.params import PageRoute
from simkeep.store import hours, nearest
from simkeep.store.models import Store
from simkeep.web.deps import Config, Db
from simkeep.web.pages import reader, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)
SHOWN = 10


@dataclass(frozen=True)
class Shown:
    """One store as the finder shows it, formatted for the reader."""

    store: Store
    distance: str
    open: bool
    change_time: str | None  # local to the store, in the reader's format
    change_weekday: str | None  # None: today
    languages: str  # "Chinese, French, and Arabic": names and list in the reader's language
    phone: str | None
    directions: dict[str, str]


@router.get("/stores", response_class=HTMLResponse)
def stores(request: Request, db: Db, settings: Config,
           q: Annotated[str | None, Query(max_length=80)] = None,
           lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
           lon: Annotated[float | None, Query(ge=-180, le=180)] = None) -> HTMLResponse:
    query = (q or "").strip()
    searched = bool(query) or (lat is not None and lon is not None)
    found = None
    if searched:
        with db.transaction(write=False) as session:
            found = nearest.find(session, latitude=lat if lon is not None else None,
                                 longitude=lon if lat is not None else None, query=query, limit=SHOWN)
    locale = reader(request).locale
    now = clock.now()
    shown = [_shown(n, locale, now) for n in found.stores] if found else []
    return render(request, "portal/stores.html", q=query, searched=searched, near_me=found is not None
                  and found.source == "point", shown=shown, any_demo=any(s.store.demo for s in shown),
                  tiles_url=settings.map_tiles_url or "", tiles_attribution=settings.map_tiles_attribution,
                  center=found.center if found else None)


def _shown(nearby: nearest.Nearby, locale: str, now: datetime) -> Shown:
    store = nearby.store
    state = hours.of_store(store, now)
    local = state.change_local
    weekday = None
    if local is not None and state.change_day(now) != 0:
        weekday = format_date(local.date(), "EEEE", locale=locale)
    return Shown(store=store, distance=distance(nearby.distance_km, locale), open=state.open,
                 change_time=format_time(local, "short", locale=locale) if local else None, change_weekday=weekday,
                 languages=format_list([language_name(x, locale) for x in store.languages], locale=locale)
                 if store.languages else "",
                 phone=shown_phone(store.phone) if store.phone else None,
                 directions=nearest.directions(store.latitude, store.longitude))


def distance(km: float, locale: str) -> str:
    """"850 m" below a kilometre, else kilometres with one decimal below 10 ("1,1 km" in French)."""
    if km < 1:
        return format_unit(round(km * 1000, -1), "length-meter", length="short", locale=locale, format="#,##0")
    return format_unit(km, "length-kilometer", length="short", locale=locale,
                       format="#,##0.0" if km < 10 else "#,##0")


def language_name(language: str, locale: str) -> str:
    """A spoken language in the reader's language: zh_CN is "Chinese", "chinois", "中文"."""
    try:
        spoken = Locale.parse(language)
        return Locale.parse(locale).languages.get(spoken.language) or spoken.get_display_name(locale) or language
    except (ValueError, UnknownLocaleError):
        return language
