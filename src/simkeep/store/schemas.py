"""The public store finder's JSON shapes (GET /api/v1/stores)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class OpenNow(BaseModel):
    open: bool = Field(description="open at the time of the request, in the store's own time zone")
    next_change_at: datetime | None = Field(
        description="when it closes (if open) or opens (if closed), UTC, ISO 8601; null if not within 15 days")
    next_change_local: str | None = Field(description="the same instant on the store's wall clock, ISO 8601 with "
                                                       "its offset", examples=["2026-11-30T19:00:00+01:00"])


class Directions(BaseModel):
    geo: str = Field(description="a geo: URI (RFC 5870): phones open their maps app", examples=["geo:48.87220,2.37660"])
    osm: str = Field(description="OpenStreetMap's directions page with the store as destination")


class StoreOut(BaseModel):
    code: str = Field(examples=["DEMO-PAR-BELLEVILLE"])
    name: str
    address: str
    postcode: str
    city: str
    country: str
    latitude: float
    longitude: float
    phone: str | None = Field(description="E.164", examples=["+33140000101"])
    timezone: str = Field(examples=["Europe/Paris"])
    distance_km: float = Field(description="great-circle distance from the search's center, km (mean earth radius)")
    open_now: OpenNow
    hours: dict[str, list[list[str]]] = Field(
        description="local opening spans per weekday (mon … sun); an end before the start runs past midnight",
        examples=[{"mon": [["09:00", "12:30"], ["14:00", "19:00"]], "fri": [["20:00", "02:00"]]}])
    closed_on: list[str] = Field(description="local dates it does not open (ISO 8601)")
    languages: list[str] = Field(description="spoken at the counter (Babel/CLDR ids)", examples=[["zh_CN", "fr"]])
    services: list[Literal["renewal", "sim_sale", "voucher_sale"]]
    operators: list[str] = Field(description="operator ids whose lines it renews", examples=[["fr-orange-mobicarte"]])
    directions: Directions
    demo: bool = Field(description="made up for the demo: not a real shop")


class CenterOut(BaseModel):
    latitude: float
    longitude: float
    source: Literal["point", "postcode", "city"] = Field(
        description="point: the lat/lon asked; postcode or city: the centroid of that area's stores")


class StoresOut(BaseModel):
    center: CenterOut | None = Field(description="null when the postcode or city matched no store")
    stores: list[StoreOut] = Field(description="nearest first; closed stores (left the network) never appear")

    model_config = {"json_schema_extra": {"examples": [{
        "center": {"latitude": 48.8674, "longitude": 2.3636, "source": "point"},
        "stores": [{"code": "DEMO-PAR-BELLEVILLE", "name": "Belleville Télécom (démo)",
                    "address": "45 rue de Belleville", "postcode": "75019", "city": "Paris", "country": "FR",
                    "latitude": 48.8728, "longitude": 2.3812, "phone": "+33140000101", "timezone": "Europe/Paris",
                    "distance_km": 1.4, "open_now": {"open": True, "next_change_at": "2026-11-30T19:00:00Z",
                                                     "next_change_local": "2026-11-30T20:00:00+01:00"},
                    "hours": {"mon": [["10:00", "20:00"]]}, "closed_on": ["2026-12-25"],
                    "languages": ["zh_CN", "fr", "en"], "services": ["renewal", "sim_sale", "voucher_sale"],
                    "operators": ["fr-orange-mobicarte"],
                    "directions": {"geo": "geo:48.87280,2.38120",
                                   "osm": "https://www.openstreetmap.org/directions?to=48.87280%2C2.38120"},
                    "demo": True}]}]}}
