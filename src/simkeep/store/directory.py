"""The store directory: adding and changing stores (the back office, CSV/GeoJSON imports, the demo).

Every way in (`create_store`, `update_store`, `import_stores`) checks a store's fields with `problems` first and
changes nothing when one is wrong. Languages spoken at the counter are Babel/CLDR language identifiers ("zh_CN",
"fr", "en", "ar", "wo", "pt_BR"…): any language Babel knows, written with an underscore as the .po directories are
(a BCP 47 "zh-CN" is accepted and stored as "zh_CN"); the portal names them in the reader's language."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from babel import Locale, UnknownLocaleError
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.catalog.models import Operator
from simkeep.core.errors import Conflict, InvalidInput, NotFound
from simkeep.core.ids import new_id
from simkeep.db import rowcount
from simkeep.ledger import service as ledger
from simkeep.store.models import SERVICES, WEEKDAYS, Store

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
CSV_COLUMNS = ("code", "name", "address", "postcode", "city", "country", "latitude", "longitude", "phone",
               "timezone", *WEEKDAYS, "closed_on", "operators", "languages", "services", "demo", "currency")


class StoreInvalid(InvalidInput):
    code, message = "store_invalid", "The store's details are not valid."

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in problems), problems=problems)
        self.problems = problems


class StoreExists(Conflict):
    code, message = "store_exists", "A store with this code exists already."


class StoreUnknown(NotFound):
    code, message = "store_not_found", "No store with this code."


class StoreAlreadyClosed(Conflict):
    code, message = "store_closed", "This store has left the network already."


class ImportInvalid(InvalidInput):
    code, message = "store_import_invalid", "Some rows are not valid: nothing was imported."

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(errors)} row(s) not valid: nothing was imported.", errors=errors)
        self.errors = errors


@dataclass(frozen=True)
class StoreFields:
    code: str
    name: str
    address: str
    postcode: str
    city: str
    latitude: float
    longitude: float
    country: str = "FR"
    phone: str | None = None
    timezone: str = "Europe/Paris"
    hours: dict = field(default_factory=dict)
    closed_on: list = field(default_factory=list)
    operators: list = field(default_factory=list)
    languages: list = field(default_factory=list)
    services: list = field(default_factory=lambda: ["renewal"])
    demo: bool = False
    currency: str = "EUR"


def city_key(city: str) -> str:
    """A city folded for search: case, accents and punctuation ignored ("Saint-Étienne" → "saint etienne")."""
    plain = unicodedata.normalize("NFKD", city).encode("ascii", "ignore").decode().casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


# -- checking -------------------------------------------------------------------------------------------------------

_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


def language_id(tag: str) -> str | None:
    """A spoken language as Babel's identifier ("zh-CN" → "zh_CN"), or None when Babel does not know it."""
    parts = tag.strip().replace("-", "_").split("_")
    if not 1 <= len(parts) <= 3 or not all(p.isalpha() or p.isdigit() for p in parts):
        return None
    written = "_".join([parts[0].lower()] + [p.title() if len(p) == 4 else p.upper() for p in parts[1:]])
    try:
        Locale.parse(written)
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    return written


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def _hours_problem(hours: object) -> str | None:
    if not isinstance(hours, dict):
        return "opening hours map a weekday (mon … sun) to its spans"
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            return f"{day!r} is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
        if not isinstance(spans, list):
            return f"{day}: a list of spans"
        for span in spans:
            if (not isinstance(span, list | tuple) or len(span) != 2
                    or not all(isinstance(t, str) and TIME.match(t) for t in span)):
                return f"{day}: each span is two times HH:MM, for example 09:00-19:00"
            if span[0] == span[1] or span[0] == "24:00":
                return f"{day}: a span cannot start and end at the same time, nor start at 24:00"
        plain = sorted((minutes(a), minutes(b)) for a, b in spans if minutes(b) > minutes(a))
        late = [minutes(a) for a, b in spans if minutes(b) < minutes(a)]  # past midnight: runs on to 24:00
        if any(later[0] < earlier[1] for earlier, later in pairwise(plain)) or any(
                start < end for start in late for _, end in plain):
            return f"{day}: spans overlap"
        if sum(1 for a, b in spans if minutes(b) < minutes(a)) > 1:
            return f"{day}: only the last span of a day may run past midnight"
    return None


def problems(session: Session, fields: StoreFields) -> list[tuple[str, str]]:
    """What is wrong with a store's fields, as (field, message) pairs; empty when it may be saved."""
    found: list[tuple[str, str]] = []
    if not CODE.match(fields.code or ""):
        found.append(("code", "2 to 32 capital letters, digits, - or _ (for example PAR-BELLEVILLE)"))
    for name, most in (("name", 120), ("address", 200), ("postcode", 16), ("city", 80)):
        value = getattr(fields, name)
        if not isinstance(value, str) or not value.strip() or len(value) > most or CONTROL.search(value):
            found.append((name, f"required, {most} characters at most"))
    if not re.fullmatch(r"[A-Z]{2}", fields.country or ""):
        found.append(("country", "an ISO 3166 two-letter country code, for example FR"))
    if not isinstance(fields.latitude, int | float) or not -90 <= fields.latitude <= 90:
        found.append(("latitude", "a number from -90 to 90"))
    if not isinstance(fields.longitude, int | float) or not -180 <= fields.longitude <= 180:
        found.append(("longitude", "a number from -180 to 180"))
    if fields.timezone not in _zones():
        found.append(("timezone", "an IANA time zone, for example Europe/Paris"))
    if fields.phone is not None:
        try:
            number = phonenumbers.parse(fields.phone, None)
            valid = phonenumbers.is_valid_number(number) and fields.phone == phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            found.append(("phone", "an E.164 number, for example +33143580000"))
    if (problem := _hours_problem(fields.hours)) is not None:
        found.append(("hours", problem))
    for day in fields.closed_on if isinstance(fields.closed_on, list) else [None]:
        try:
            date.fromisoformat(day)
        except (TypeError, ValueError):
            found.append(("closed_on", "ISO dates, for example 2026-12-25"))
            break
    if not isinstance(fields.languages, list) or any(
            not isinstance(x, str) or language_id(x) != x for x in fields.languages):
        found.append(("languages", "language identifiers Babel knows, for example zh_CN, fr, en"))
    if not isinstance(fields.services, list) or any(s not in SERVICES for s in fields.services):
        found.append(("services", f"among {', '.join(SERVICES)}"))
    if not isinstance(fields.operators, list) or any(not isinstance(x, str) for x in fields.operators):
        found.append(("operators", "operator ids from the catalog"))
    else:
        known = set(session.scalars(select(Operator.id).where(Operator.id.in_(fields.operators)))) \
            if fields.operators else set()
        unknown = [x for x in fields.operators if x not in known]
        if unknown:
            found.append(("operators", f"not in the catalog: {', '.join(unknown)}"))
    if not re.fullmatch(r"[A-Z]{3}", fields.currency or ""):
        found.append(("currency", "an ISO 4217 currency code, for example EUR"))
    return found


def normalized(fields: StoreFields) -> StoreFields:
    """Whitespace trimmed, the code in capitals, languages as Babel ids, lists without repeats."""
    def text(value):
        return value.strip() if isinstance(value, str) else value

    languages = fields.languages
    if isinstance(languages, list):
        languages = list(dict.fromkeys(language_id(x) or x if isinstance(x, str) else x for x in languages))
    phone = text(fields.phone) or None
    return replace(fields, code=text(fields.code).upper() if isinstance(fields.code, str) else fields.code,
                   name=text(fields.name), address=text(fields.address), postcode=text(fields.postcode),
                   city=text(fields.city), country=text(fields.country).upper() if isinstance(fields.country, str)
                   else fields.country, phone=phone, timezone=text(fields.timezone),
                   hours={d: [list(s) for s in fields.hours[d]] for d in WEEKDAYS if fields.hours.get(d)}
                   if isinstance(fields.hours, dict) and _hours_problem(fields.hours) is None else fields.hours,
                   closed_on=sorted(set(fields.closed_on)) if isinstance(fields.closed_on, list)
                   and all(isinstance(x, str) for x in fields.closed_on) else fields.closed_on,
                   operators=list(dict.fromkeys(fields.operators)) if isinstance(fields.operators, list)
                   and all(isinstance(x, str) for x in fields.operators) else fields.operators,
                   languages=languages,
                   services=list(dict.fromkeys(fields.services)) if isinstance(fields.services, list)
                   and all(isinstance(x, str) for x in fields.services) else fields.services)


def checked(session: Session, fields: StoreFields) -> StoreFields:
    fields = normalized(fields)
    found = problems(session, fields)
    if found:
        raise StoreInvalid(found)
    return fields


# -- reading --------------------------------------------------------------------------------------------------------

def find(session: Session, code: str) -> Store | None:
    return session.scalars(select(Store).where(Store.code == code.strip().upper())).first()


def get(session: Session, code: str) -> Store:
    store = find(session, code)
    if store is None:
        raise StoreUnknown()
    return store


def list_stores(session: Session, *, search: str | None = None, limit: int = 500) -> list[Store]:
    """Every store (closed ones too), by code; `search` matches the code, the name, the postcode or the city."""
    query = select(Store).order_by(Store.code).limit(limit)
    term = CONTROL.sub("", search or "").strip()
    if term:
        like = f"%{term.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Store.code.ilike(like), Store.name.ilike(like), Store.postcode.startswith(term),
                                Store.city_key.startswith(city_key(term))))
    return list(session.scalars(query))


def fields_of(store: Store) -> StoreFields:
    return StoreFields(**{f.name: getattr(store, f.name) for f in fields(StoreFields)})


# -- writing --------------------------------------------------------------------------------------------------------

def add_store(session: Session, fields: StoreFields, *, now: datetime) -> Store:
    """A new store with its ledger account (what it owes the operator). Not checked: `create_store` checks."""
    store_id = new_id()
    account_id = ledger.open_store_account(session, owner_id=store_id, currency=fields.currency, now=now)
    row = {**asdict(fields), "code": fields.code.strip().upper(), "id": store_id, "city_key": city_key(fields.city),
           "account_id": account_id, "created_at": now, "updated_at": now, "closed_at": None}
    session.execute(insert(Store.__table__), [row])
    return Store(**row)


def create_store(session: Session, *, fields: StoreFields, actor: str, reason: str, now: datetime) -> Store:
    fields = checked(session, fields)
    if not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    if find(session, fields.code) is not None:
        raise StoreExists()
    store = add_store(session, fields, now=now)
    audit.record(session, actor=actor, action="store.created", subject_type="store", subject_id=store.code,
                 reason=reason, details={"name": store.name, "city": store.city}, now=now)
    return store


def update_store(session: Session, *, code: str, fields: StoreFields, actor: str, reason: str,
                 now: datetime) -> Store:
    """Change a store's details (its code and currency stay: statements and the ledger name them)."""
    store = get(session, code)
    fields = checked(session, replace(fields, code=store.code, currency=store.currency))
    if not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    before = fields_of(store)
    changed = {name: value for name, value in asdict(fields).items() if getattr(before, name) != value}
    if changed:
        session.execute(update(Store).where(Store.id == store.id)
                        .values(**changed, city_key=city_key(fields.city), updated_at=now))
        audit.record(session, actor=actor, action="store.updated", subject_type="store", subject_id=store.code,
                     reason=reason, details={"changed": sorted(changed)}, now=now)
        session.expire(store)
    return get(session, code)


def close_store(session: Session, *, code: str, actor: str, reason: str, now: datetime) -> Store:
    """The store leaves the network: the finder no longer shows it and it sells nothing; its history stays."""
    store = get(session, code)
    if not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    done = session.execute(update(Store).where(Store.id == store.id, Store.closed_at.is_(None))
                           .values(closed_at=now, updated_at=now))
    if rowcount(done) != 1:
        raise StoreAlreadyClosed()
    audit.record(session, actor=actor, action="store.closed", subject_type="store", subject_id=store.code,
                 reason=reason, now=now)
    session.expire(store)
    return get(session, code)


# -- importing ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportRow:
    line: int  # the CSV line (the header is line 1) or the GeoJSON feature's number (from 1)
    record: dict


@dataclass(frozen=True)
class ImportResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    dry_run: bool


def _split(value) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [x for x in re.split(r"[\s,;|]+", str(value).strip()) if x]


def _spans(value) -> list:
    """One weekday's hours from a CSV cell: "09:00-12:30 14:00-19:00"; empty or "closed": none."""
    if isinstance(value, list):
        return value
    text = (value or "").strip()
    if not text or text.casefold() == "closed":
        return []
    spans = []
    for part in re.split(r"[\s,;]+", text):
        start, dash, end = part.partition("-")
        spans.append([start, end] if dash else [part])
    return spans


def _number(value) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return float("nan")


def _flag(value) -> bool:
    return value is True or str(value).strip().casefold() in ("1", "true", "yes", "y")


def fields_from(record: dict) -> StoreFields:
    """A CSV row or a GeoJSON feature's properties as store fields (not yet checked)."""
    hours = record.get("hours")
    if isinstance(hours, str) and hours.strip():
        try:
            hours = json.loads(hours)
        except ValueError:
            hours = {"?": hours}
    if not isinstance(hours, dict):
        hours = {day: _spans(record.get(day)) for day in WEEKDAYS if _spans(record.get(day))}
    return StoreFields(
        code=str(record.get("code") or ""), name=str(record.get("name") or ""),
        address=str(record.get("address") or ""), postcode=str(record.get("postcode") or ""),
        city=str(record.get("city") or ""), country=str(record.get("country") or "FR"),
        latitude=_number(record.get("latitude")), longitude=_number(record.get("longitude")),
        phone=str(record["phone"]).strip() or None if record.get("phone") else None,
        timezone=str(record.get("timezone") or "Europe/Paris"), hours=hours,
        closed_on=_split(record.get("closed_on")), operators=_split(record.get("operators")),
        languages=_split(record.get("languages")),
        services=_split(record.get("services")) if record.get("services") not in (None, "") else ["renewal"],
        demo=_flag(record.get("demo")), currency=str(record.get("currency") or "EUR"))


def read_csv(text: str) -> list[ImportRow]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"code", "name", "address", "postcode", "city", "latitude", "longitude"} - set(reader.fieldnames or [])
    if missing:
        raise ImportInvalid([(1, f"the header lacks {', '.join(sorted(missing))}")])
    return [ImportRow(line=reader.line_num, record=row) for row in reader]


def read_geojson(text: str) -> list[ImportRow]:
    """A FeatureCollection of Points whose properties are the CSV's columns (lists as arrays, hours as an object);
    the point gives the coordinates."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImportInvalid([(0, f"not JSON: {exc}")]) from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
            data.get("features"), list):
        raise ImportInvalid([(0, "a GeoJSON FeatureCollection is expected")])
    rows = []
    for number, feature in enumerate(data["features"], start=1):
        geometry = (feature or {}).get("geometry") or {}
        properties = dict((feature or {}).get("properties") or {})
        coordinates = geometry.get("coordinates") if geometry.get("type") == "Point" else None
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            properties["longitude"], properties["latitude"] = coordinates[0], coordinates[1]
        else:
            properties["latitude"] = properties["longitude"] = None
        rows.append(ImportRow(line=number, record=properties))
    return rows


def read_file(name: str, text: str) -> list[ImportRow]:
    return read_geojson(text) if name.lower().endswith((".geojson", ".json")) else read_csv(text)


def import_stores(session: Session, rows: Iterable[ImportRow], *, actor: str, reason: str, now: datetime,
                  dry_run: bool = False, progress: Callable[[], None] | None = None) -> ImportResult:
    """Upsert stores by code. Every row is checked first; one bad row (or a code twice) raises ImportInvalid with
    every row's problems and changes nothing. With `dry_run`, says what would change and changes nothing."""
    rows = list(rows)
    errors: list[tuple[int, str]] = []
    good: list[StoreFields] = []
    seen: dict[str, int] = {}
    for row in rows:
        fields = normalized(fields_from(row.record))
        found = problems(session, fields)
        if fields.code in seen:
            found.append(("code", f"also on line {seen[fields.code]}"))
        seen.setdefault(fields.code, row.line)
        if found:
            errors.append((row.line, "; ".join(f"{name}: {text}" for name, text in found)))
        good.append(fields)
        if progress:
            progress()
    if errors:
        raise ImportInvalid(errors)
    created, updated, unchanged = [], [], []
    for fields in good:
        existing = find(session, fields.code)
        if existing is None:
            created.append(fields.code)
            if not dry_run:
                create_store(session, fields=fields, actor=actor, reason=reason, now=now)
        elif fields_of(existing) == replace(fields, currency=existing.currency):
            unchanged.append(fields.code)
        else:
            updated.append(fields.code)
            if not dry_run:
                update_store(session, code=fields.code, fields=fields, actor=actor, reason=reason, now=now)
    return ImportResult(created=created, updated=updated, unchanged=unchanged, dry_run=dry_run)


def zone(store: Store) -> ZoneInfo:
    try:
        return ZoneInfo(store.timezone)
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")
