"""eSIM profiles: the SM-DP+ provider's file in, GSMA SGP.22 activation codes out.

A profile is a `sims` row of kind ESIM (ICCID, IMSI, state, line: provisioning and SIM swap treat it like a card)
and an `esim_profiles` row with what a phone needs to download it. The activation code (SGP.22 §4.1) is
`1$<SM-DP+ address>$<matching ID>[$<SM-DP+ OID>[$1]]`, the last field "1" when the phone must ask for a confirmation
code; a QR code carries it behind "LPA:". The matching ID is a bearer secret (the first phone to present it downloads
the profile), so it is sealed at rest (AES-GCM under SIMKEEP_ESIM_SEAL_KEY, bound to the ICCID), never logged, and
never in a `repr`. Who may see a code is decided above this layer (portal, console, the e-mailed link)."""

from __future__ import annotations

import csv
import hmac
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import segno
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from simkeep.audit import service as audits
from simkeep.catalog.models import Operator
from simkeep.config import Settings
from simkeep.core import sealed
from simkeep.core.errors import EsimImportRefused, EsimLinkInvalid, EsimNotConfigured, EsimUnavailable
from simkeep.core.ids import new_id
from simkeep.db import rowcount
from simkeep.network import inventory, repository
from simkeep.network.models import ASSIGNED, ESIM, IN_STOCK, EsimProfile, Sim

# The file's columns, in any order; smdp_oid and confirmation_code_required may follow (SGP.22's optional fields).
COLUMNS = ("iccid", "imsi", "smdp_address", "matching_id")
MAX_ROWS = 100_000
# SGP.22 §4.1.1: the matching ID (AC_Token) is upper-case letters, digits and "-"; the whole code at most 255 chars.
MATCHING_ID = re.compile(r"[0-9A-Z-]{1,255}")
OID = re.compile(r"[0-2](\.(0|[1-9][0-9]{0,8})){1,31}")
LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
MAX_CODE = 255
LINK_SALT = "esim-link"
_SEAL_INFO = b"simkeep/esim-seal"


def seal_key(settings: Settings) -> str:
    """The AES key (hex) the matching IDs are sealed with."""
    if not settings.esim_seal_key:
        raise EsimNotConfigured()
    return hmac.new(settings.esim_seal_key.encode(), _SEAL_INFO, "sha256").hexdigest()


def _context(iccid: str) -> str:
    return f"esim:{iccid}"  # a sealed matching ID copied to another profile's row opens nowhere


# -- the activation code ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ActivationCode:
    smdp_address: str
    matching_id: str = field(repr=False)
    smdp_oid: str | None = None
    confirmation_code_required: bool = False

    @property
    def text(self) -> str:
        """The code as SGP.22 §4.1 writes it: the OID field is kept (empty) when only the flag follows it."""
        code = f"1${self.smdp_address}${self.matching_id}"
        if self.smdp_oid or self.confirmation_code_required:
            code += f"${self.smdp_oid or ''}"
        if self.confirmation_code_required:
            code += "$1"
        return code

    @property
    def qr_text(self) -> str:
        """What the QR code holds: "LPA:" and the code (what a phone's camera app recognises as an eSIM)."""
        return f"LPA:{self.text}"


def qr(code: ActivationCode) -> segno.QRCode:
    """The QR code of `code`. SGP.22 fixes the content, not the symbol; error correction M (15 %) keeps a code shown
    on a scratched screen or a creased print-out readable; a 40 to 60-character code is a version 3 or 4 symbol."""
    return segno.make(code.qr_text, error="m", boost_error=False)


def qr_svg(code: ActivationCode) -> str:
    """The QR code as inline SVG (a title for screen readers; dark modules on white with the quiet zone)."""
    return qr(code).svg_inline(scale=6, border=4, title="eSIM QR code", omitsize=False)


# -- the provider's file ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ProfileRow:
    line: int
    iccid: str
    imsi: str
    code: ActivationCode


def parse(text: str, *, operator: Operator) -> list[ProfileRow]:
    """The profiles of an SM-DP+ provider's CSV (a header naming COLUMNS and perhaps the optional two), checked as the
    inventory checks a SIM vendor's file (ICCID Luhn, IMSI of the operator's MCC-MNC). Any bad row refuses the whole
    file: EsimImportRefused lists "line N: why" for each (never a matching ID)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if missing := [c for c in COLUMNS if c not in header]:
        raise EsimImportRefused([f"line 1: missing column(s) {', '.join(missing)}"])
    reader.fieldnames = header
    rows: list[ProfileRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if len(rows) + len(problems) >= MAX_ROWS:
            problems.append(f"line {number}: more than {MAX_ROWS} profiles in one file; split it")
            break
        values = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(values.values()):
            continue
        values["iccid"] = inventory.clean_iccid(values["iccid"])
        row, why = _row(number, values, operator)
        for key in (values["iccid"], values["imsi"]):
            if key and key in seen:
                why = why or f"{key} is also on line {seen[key]}"
            seen.setdefault(key, number)
        if why or row is None:
            problems.append(f"line {number}: {why}")
        else:
            rows.append(row)
    if problems:
        raise EsimImportRefused(problems)
    if not rows:
        raise EsimImportRefused(["the file has no profiles"])
    return rows


def _row(number: int, values: dict[str, str], operator: Operator) -> tuple[ProfileRow | None, str | None]:
    iccid, imsi = values["iccid"], values["imsi"]
    address, matching_id = values["smdp_address"].lower(), values["matching_id"]
    oid, flag = values.get("smdp_oid") or None, values.get("confirmation_code_required", "")
    card = inventory.iccid_problem(iccid) or inventory.imsi_problem(imsi, operator.mcc_mnc)
    why = (str(card) if card else None) or _address_problem(address) or (
        "the matching ID must be 1 to 255 upper-case letters, digits or -"
        if not MATCHING_ID.fullmatch(matching_id) else None) or (
        "the SM-DP+ OID is not an object identifier like 1.3.6.1.4.1.31746"
        if oid and not OID.fullmatch(oid) else None) or (
        "confirmation_code_required must be 1, 0 or empty" if flag not in ("", "0", "1") else None)
    if why:
        return None, why
    code = ActivationCode(address, matching_id, oid, flag == "1")
    if len(code.text) > MAX_CODE:
        return None, f"the activation code would be {len(code.text)} characters (at most {MAX_CODE})"
    return ProfileRow(number, iccid, imsi, code), None


def _address_problem(address: str) -> str | None:
    """An SM-DP+ address is a fully qualified host name (letters, digits, hyphens; no port, no IP address)."""
    labels = address.split(".")
    if (not address or len(address) > 253 or len(labels) < 2 or not all(LABEL.fullmatch(label) for label in labels)
            or labels[-1].isdigit()):
        return f"the SM-DP+ address {address[:60]!r} is not a host name like smdp.example.com"
    return None


def import_profiles(session: Session, *, text: str, operator: Operator, profile: str, import_ref: str, key: str,
                    actor: str, now: datetime) -> int:
    """Import the file's profiles into stock (each a `sims` row in stock and its sealed code), all or nothing: a bad
    row, or an ICCID or IMSI simkeep already knows, refuses the file with line numbers. Returns the count."""
    rows = parse(text, operator=operator)
    known = (repository.existing(session, Sim.iccid, [r.iccid for r in rows])
             | repository.existing(session, Sim.imsi, [r.imsi for r in rows]))
    if clashes := [f"line {r.line}: {r.iccid if r.iccid in known else r.imsi} is already in the inventory"
                   for r in rows if r.iccid in known or r.imsi in known]:
        raise EsimImportRefused(problems=clashes)
    sims, profiles = [], []
    for r in rows:
        sim_id = new_id()
        sims.append(dict(id=sim_id, iccid=r.iccid, imsi=r.imsi, operator_id=operator.id, profile=profile[:64],
                         kind=ESIM, state=IN_STOCK, line_id=None, import_ref=import_ref[:120], imported_at=now,
                         state_changed_at=now))
        profiles.append(dict(sim_id=sim_id, smdp_address=r.code.smdp_address, smdp_oid=r.code.smdp_oid,
                             matching_id_sealed=sealed.seal(r.code.matching_id, key=key, context=_context(r.iccid)),
                             confirmation_code_required=r.code.confirmation_code_required, assigned_at=None,
                             shown_publicly_at=None))
    session.execute(insert(Sim.__table__), sims)
    session.execute(insert(EsimProfile.__table__), profiles)
    audits.record(session, actor=actor, action="esims.import", subject_type="operator", subject_id=operator.id,
                  reason=f"SM-DP+ profile file {import_ref[-120:]}", details={
                      "profiles": len(rows), "first_iccid": rows[0].iccid, "last_iccid": rows[-1].iccid}, now=now)
    return len(rows)


# -- a line's eSIM ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Esim:
    """A line's eSIM profile as pages show it (never the matching ID)."""

    sim_id: uuid.UUID
    iccid: str
    state: str
    line_id: uuid.UUID | None
    smdp_address: str
    confirmation_code_required: bool
    assigned_at: datetime | None
    shown_publicly_at: datetime | None


def _esims():
    return (select(Sim.id, Sim.iccid, Sim.state, Sim.line_id, EsimProfile.smdp_address,
                   EsimProfile.confirmation_code_required, EsimProfile.assigned_at, EsimProfile.shown_publicly_at)
            .join(EsimProfile, EsimProfile.sim_id == Sim.id))


def of_line(session: Session, line_id: uuid.UUID) -> Esim | None:
    """The eSIM the line holds now, or None (no SIM, or a physical card)."""
    row = session.execute(_esims().where(Sim.line_id == line_id, Sim.state == ASSIGNED)).one_or_none()
    return Esim(*row) if row else None


def get(session: Session, sim_id: uuid.UUID) -> Esim | None:
    row = session.execute(_esims().where(Sim.id == sim_id)).one_or_none()
    return Esim(*row) if row else None


def activation_code(session: Session, esim: Esim, *, key: str) -> ActivationCode:
    """The profile's activation code, its matching ID unsealed (for the page that shows it, and only that)."""
    profile = session.get_one(EsimProfile, esim.sim_id)
    matching_id = sealed.open_sealed(profile.matching_id_sealed, keys=[key], context=_context(esim.iccid))
    if matching_id is None:
        raise EsimNotConfigured("The profile's code cannot be opened with SIMKEEP_ESIM_SEAL_KEY.")
    return ActivationCode(profile.smdp_address, matching_id, profile.smdp_oid, profile.confirmation_code_required)


def in_stock(session: Session, operator_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Sim).where(
        Sim.operator_id == operator_id, Sim.kind == ESIM, Sim.state == IN_STOCK)) or 0


@dataclass(frozen=True, slots=True)
class Assigned:
    esim: Esim
    replaced_iccid: str | None  # the card the line had before (now retired), if any


def assign(session: Session, *, line: inventory.LineRef, actor: str, now: datetime) -> Assigned:
    """Give the line the next eSIM profile of its operator in stock: as its first SIM (inventory.assign), or in place
    of its card (inventory.swap: the old card retired and its IMSI removed from the network before the profile's is
    bound). The caller holds the line's row lock. EsimUnavailable, with nothing changed, when none is in stock."""
    iccid = _next_in_stock(session, line.operator_id)
    current = repository.assigned_sim(session, line.id, lock=True)
    reason = "eSIM profile given to the line"
    if current is None:
        inventory.assign(session, line=line, iccid=iccid, actor=actor, reason=reason, now=now)
    else:
        inventory.swap(session, line=line, new_iccid=iccid, actor=actor, reason=f"{reason} in place of its card",
                       now=now)
    sim_id = session.scalar(select(Sim.id).where(Sim.iccid == iccid))
    session.execute(update(EsimProfile).where(EsimProfile.sim_id == sim_id).values(assigned_at=now))
    esim = get(session, sim_id) if sim_id else None
    assert esim is not None
    return Assigned(esim, current.iccid if current else None)


def _next_in_stock(session: Session, operator_id: str) -> str:
    """The ICCID of the oldest profile in stock, locked; a profile another transaction holds is skipped, so two
    agents at once never get the same one (PostgreSQL; SQLite runs write transactions one at a time)."""
    iccid = session.scalar(
        select(Sim.iccid).join(EsimProfile, EsimProfile.sim_id == Sim.id)
        .where(Sim.operator_id == operator_id, Sim.kind == ESIM, Sim.state == IN_STOCK)
        .order_by(Sim.imported_at, Sim.iccid).limit(1).with_for_update(skip_locked=True, of=Sim))
    if iccid is None:
        raise EsimUnavailable()
    return iccid


# -- the e-mailed link: the code once without a session --------------------------------------------------------------

def link_token(key: str, esim: Esim) -> str:
    """A signed link token naming the profile and the line it was given to (a later owner's profile never opens)."""
    return URLSafeTimedSerializer(key, salt=LINK_SALT).dumps([esim.sim_id.hex, esim.line_id.hex if esim.line_id else ""])


def open_link(session: Session, *, keys: list[str], token: str, max_age_seconds: int) -> Esim:
    """The profile a link names while it is still the line's eSIM; EsimLinkInvalid otherwise (forged, expired, or
    the line has another SIM since)."""
    try:
        sim_hex, line_hex = URLSafeTimedSerializer(keys, salt=LINK_SALT).loads(token, max_age=max_age_seconds)
        esim = get(session, uuid.UUID(sim_hex))
    except (BadSignature, SignatureExpired, ValueError, TypeError) as exc:
        raise EsimLinkInvalid() from exc
    if esim is None or esim.state != ASSIGNED or esim.line_id is None or esim.line_id.hex != line_hex:
        raise EsimLinkInvalid()
    return esim


def take_public_view(session: Session, esim: Esim, *, now: datetime) -> bool:
    """Record that the code is shown without a session: True only for the first caller, ever (a guarded update, so
    two clicks racing show it once)."""
    return rowcount(session.execute(update(EsimProfile).where(EsimProfile.sim_id == esim.sim_id,
                                                              EsimProfile.shown_publicly_at.is_(None))
                                    .values(shown_publicly_at=now))) == 1


def lines_with_esim(session: Session, line_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these lines hold an eSIM now."""
    if not line_ids:
        return set()
    return set(session.scalars(select(Sim.line_id).join(EsimProfile, EsimProfile.sim_id == Sim.id).where(
        Sim.line_id.in_(line_ids), Sim.state == ASSIGNED)))
