"""SIM and number inventory: the SIM vendor's file and the operator's number ranges imported, a card bound to a line,
swapped for a new one, or reported lost.

A vendor file is checked whole before anything is written: one bad row (a mistyped ICCID, an IMSI of another
network, a card already in stock) refuses the file, with every bad row's line number and reason, so a batch is never
half in stock. The vendor's secret columns (Ki, OPc, ADM1, PIN/PUK) are never read: they belong to the
authentication centre, and nothing here stores, logs or echoes them.

Callers above the line domain hand lines in as `LineRef` (this package may not import `line`)."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.catalog.models import Operator
from simkeep.core.errors import (
    InvalidMsisdn,
    InventoryFileRefused,
    LineHasNoSim,
    LineHasSim,
    LineNotLive,
    SimNotFound,
    SimNotInStock,
    SimWrongOperator,
)
from simkeep.core.ids import new_id
from simkeep.core.phone import masked, normalize_msisdn
from simkeep.network import repository, service
from simkeep.network.models import ABSENT, ASSIGNED, ESIM, IN_STOCK, LOST, PHYSICAL, RETIRED, NetworkNumber, Sim

INSERT_BATCH = 5000
MAX_RANGE = 1_000_000  # numbers in one row's range: a typo in the last number should not make a billion rows
LIVE_STATES = ("active", "grace", "suspended")  # a line that may hold a card
Progress = Callable[[int, int], None]  # (rows written, rows in the file)

# Header names as vendors spell them, after lower-casing and dropping spaces, dashes and underscores.
_SIM_COLUMNS = {"iccid": "iccid", "icc": "iccid", "iccid20": "iccid", "imsi": "imsi", "profile": "profile",
                "profilename": "profile", "kind": "kind", "type": "kind", "simtype": "kind"}
_NUMBER_COLUMNS = {"msisdn": "msisdn", "number": "msisdn", "first": "first", "from": "first", "start": "first",
                   "last": "last", "to": "last", "end": "last"}
_KINDS = {"": PHYSICAL, "physical": PHYSICAL, "sim": PHYSICAL, "usim": PHYSICAL, "esim": ESIM, "euicc": ESIM}


@dataclass(frozen=True, slots=True)
class LineRef:
    """A line as the layers above hand it to network/: its id, number, operator and lifecycle state."""

    id: uuid.UUID
    msisdn: str
    operator_id: str
    state: str


@dataclass(frozen=True, slots=True)
class SimRow:
    line: int  # the row's line number in the file (the header is line 1)
    iccid: str
    imsi: str
    profile: str
    kind: str


# What can be wrong with a row, by code (pages translate the same sentences: admin.network.ROW_TEXTS).
PROBLEMS = {
    "iccid_missing": "no ICCID",
    "iccid_characters": "ICCID %(iccid)s has characters other than digits",
    "iccid_length": "ICCID %(iccid)s has %(digits)s digits, not 18 to 20",
    "iccid_luhn": "ICCID %(iccid)s fails its Luhn check digit",
    "imsi_format": "IMSI %(imsi)s is not 15 digits",
    "imsi_network": "IMSI %(imsi)s is not of the operator's network (MCC-MNC %(codes)s)",
    "kind_unknown": "kind %(kind)s is neither physical nor esim",
    "profile_long": "the profile name is longer than 64 characters",
    "iccid_repeated": "ICCID %(iccid)s is also on line %(line)s",
    "imsi_repeated": "IMSI %(imsi)s is also on line %(line)s",
    "iccid_known": "ICCID %(iccid)s is already in the inventory",
    "imsi_known": "IMSI %(imsi)s is already in the inventory",
    "column_missing": "the header has no %(column)s column",
    "no_cards": "the file has no cards",
    "no_numbers": "the file has no numbers",
    "msisdn_invalid": "%(value)s is not a mobile number of the operator's country",
    "msisdn_missing": "no number: give msisdn, or first and last",
    "msisdn_both": "give either a number or a range (first, last), not both",
    "range_backwards": "the range %(first)s-%(last)s does not run upwards between numbers of one length",
    "range_large": "the range %(first)s-%(last)s holds %(count)s numbers, more than %(max)s",
    "msisdn_repeated": "%(msisdn)s is also on line %(line)s",
    "msisdn_known": "%(msisdn)s is already in the inventory",
}


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    values: dict

    def __str__(self) -> str:
        return PROBLEMS[self.code] % self.values


def _problem(code: str, **values: object) -> Problem:
    return Problem(code, values)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    problems: list[Problem]

    def as_dict(self) -> dict:
        return {"line": self.line, "reason": "; ".join(map(str, self.problems)),
                "problems": [{"code": p.code, **p.values} for p in self.problems]}


class _Refusal(Exception):
    """One row's problem while expanding it (a number file's range)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


# -- checks -----------------------------------------------------------------------------------------------------------

_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits added (Luhn)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check ITU-T E.118 puts at the end of an ICCID."""
    return (sum(map(int, digits[-1::-2])) + sum(_DOUBLED[int(d)] for d in digits[-2::-2])) % 10 == 0


def clean_iccid(raw: str) -> str:
    """The ICCID as printed: spaces dropped and the "F" filler some vendors pad to 20 digits removed."""
    return raw.strip().replace(" ", "").upper().rstrip("F")


def iccid_problem(iccid: str) -> Problem | None:
    if not iccid:
        return _problem("iccid_missing")
    if not (iccid.isascii() and iccid.isdigit()):
        return _problem("iccid_characters", iccid=repr(iccid[:24]))
    if not 18 <= len(iccid) <= 20:
        return _problem("iccid_length", iccid=iccid, digits=len(iccid))
    if not luhn_ok(iccid):
        return _problem("iccid_luhn", iccid=iccid)
    return None


def imsi_problem(imsi: str, mcc_mnc: list[str]) -> Problem | None:
    if not (len(imsi) == 15 and imsi.isascii() and imsi.isdigit()):
        return _problem("imsi_format", imsi=repr(imsi[:24]))
    if mcc_mnc and not imsi.startswith(tuple(mcc_mnc)):
        return _problem("imsi_network", imsi=imsi, codes=", ".join(mcc_mnc))
    return None


# -- reading the files ------------------------------------------------------------------------------------------------

def _rows(lines: Iterable[str], names: dict[str, str], required: tuple[str, ...] | tuple[tuple[str, ...], ...]
          ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {our column: value}) for each non-empty row; the delimiter is the header's (, ; or tab).
    Columns we do not know (the card's keys among them) are dropped here, before anything else sees them."""
    it = iter(lines)
    header_line = next(it, "")
    delimiter = max(",;\t", key=header_line.count)
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    keys = [names.get(h.strip().lower().replace(" ", "").replace("_", "").replace("-", "")) for h in header]
    for need in required:
        options = need if isinstance(need, tuple) else (need,)
        if not any(o in keys for o in options):
            _refuse_if([RowError(1, [_problem("column_missing", column=" or ".join(options))])])
    reader = csv.reader(it, delimiter=delimiter)
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        row = {key: value.strip() for key, value in zip(keys, values, strict=False) if key}
        yield reader.line_num + 1, row


def read_sims(session: Session, lines: Iterable[str], *, operator: Operator, profile: str) -> list[SimRow]:
    """Every row of a SIM vendor's file, checked; InventoryFileRefused lists every bad row if one is."""
    errors: list[RowError] = []
    good: list[SimRow] = []
    seen_iccid: dict[str, int] = {}
    seen_imsi: dict[str, int] = {}
    for number, row in _rows(lines, _SIM_COLUMNS, ("iccid", "imsi")):
        iccid, imsi = clean_iccid(row.get("iccid", "")), row.get("imsi", "")
        kind = _KINDS.get(row.get("kind", "").lower())
        problems = [p for p in (iccid_problem(iccid), imsi_problem(imsi, operator.mcc_mnc)) if p]
        if kind is None:
            problems.append(_problem("kind_unknown", kind=repr(row["kind"][:24])))
        if iccid and iccid in seen_iccid:
            problems.append(_problem("iccid_repeated", iccid=iccid, line=seen_iccid[iccid]))
        if imsi and imsi in seen_imsi:
            problems.append(_problem("imsi_repeated", imsi=imsi, line=seen_imsi[imsi]))
        card_profile = row.get("profile") or profile
        if len(card_profile) > 64:
            problems.append(_problem("profile_long"))
        seen_iccid.setdefault(iccid, number)
        seen_imsi.setdefault(imsi, number)
        if problems:
            errors.append(RowError(number, problems))
        else:
            good.append(SimRow(number, iccid, imsi, card_profile, kind or PHYSICAL))
    if not good and not errors:
        _refuse_if([RowError(1, [_problem("no_cards")])])
    known_iccids = repository.existing(session, Sim.iccid, [r.iccid for r in good])
    known_imsis = repository.existing(session, Sim.imsi, [r.imsi for r in good])
    for r in good:
        dup = [_problem("iccid_known", iccid=r.iccid)] if r.iccid in known_iccids else []
        dup += [_problem("imsi_known", imsi=r.imsi)] if r.imsi in known_imsis else []
        if dup:
            errors.append(RowError(r.line, dup))
    _refuse_if(errors)
    return good


def read_numbers(session: Session, lines: Iterable[str], *, operator: Operator) -> list[tuple[int, str]]:
    """(line number, E.164) for every number of an operator's number file: one per row (msisdn) or ranges
    (first, last: both ends included, same length); checked like a SIM file."""
    errors: list[RowError] = []
    good: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, row in _rows(lines, _NUMBER_COLUMNS, (("msisdn", "first"),)):
        try:
            msisdns = _expand(row, operator.country)
        except _Refusal as exc:
            errors.append(RowError(number, [exc.problem]))
            continue
        repeats = [m for m in msisdns if m in seen]
        if repeats:
            errors.append(RowError(number, [_problem("msisdn_repeated", msisdn=repeats[0], line=seen[repeats[0]])]))
            continue
        seen.update(dict.fromkeys(msisdns, number))
        good.extend((number, m) for m in msisdns)
    if not good and not errors:
        _refuse_if([RowError(1, [_problem("no_numbers")])])
    known = repository.existing(session, NetworkNumber.msisdn, [m for _, m in good])
    reported: set[int] = {e.line for e in errors}
    for line, msisdn in good:
        if msisdn in known and line not in reported:
            reported.add(line)
            errors.append(RowError(line, [_problem("msisdn_known", msisdn=msisdn)]))
    _refuse_if(errors)
    return good


def _expand(row: dict[str, str], country: str) -> list[str]:
    if row.get("msisdn"):
        if row.get("first") or row.get("last"):
            raise _Refusal(_problem("msisdn_both"))
        return [_msisdn(row["msisdn"], country)]
    if not (row.get("first") and row.get("last")):
        raise _Refusal(_problem("msisdn_missing"))
    first, last = _msisdn(row["first"], country), _msisdn(row["last"], country)
    if len(first) != len(last) or last < first:
        raise _Refusal(_problem("range_backwards", first=first, last=last))
    count = int(last[1:]) - int(first[1:]) + 1
    if count > MAX_RANGE:
        raise _Refusal(_problem("range_large", first=first, last=last, count=count, max=MAX_RANGE))
    width = len(first) - 1
    return [f"+{n:0{width}d}" for n in range(int(first[1:]), int(last[1:]) + 1)]


def _msisdn(raw: str, country: str) -> str:
    try:
        return normalize_msisdn(raw, country)
    except InvalidMsisdn as exc:
        raise _Refusal(_problem("msisdn_invalid", value=raw[:32])) from exc


def _refuse_if(errors: list[RowError]) -> None:
    if errors:
        errors.sort(key=lambda e: e.line)
        raise InventoryFileRefused(rows=[e.as_dict() for e in errors])


# -- imports ----------------------------------------------------------------------------------------------------------

def import_sims(session: Session, lines: Iterable[str], *, operator: Operator, source: str, actor: str,
                profile: str = "standard", now: datetime, progress: Progress | None = None) -> int:
    """Check the whole vendor file, then put every card in stock (in batches); nothing if any row is bad.
    `source` names the file (kept on each card and in the audit log). Returns the cards imported."""
    cards = read_sims(session, lines, operator=operator, profile=profile)
    ref = source[-120:]
    insert_rows = repository.bulk_inserter(session, Sim.__table__, ["id", "iccid", "imsi", "profile", "kind"], {
        "operator_id": operator.id, "state": IN_STOCK, "line_id": None, "import_ref": ref, "imported_at": now,
        "state_changed_at": now})
    for start in range(0, len(cards), INSERT_BATCH):
        chunk = cards[start:start + INSERT_BATCH]
        insert_rows([(new_id(), c.iccid, c.imsi, c.profile, c.kind) for c in chunk])
        if progress:
            progress(start + len(chunk), len(cards))
    audit.record(session, actor=actor, action="sims.import", subject_type="operator", subject_id=operator.id,
                 reason=f"SIM vendor file {ref}", details={"cards": len(cards), "first_iccid": cards[0].iccid,
                                                           "last_iccid": cards[-1].iccid}, now=now)
    return len(cards)


def import_numbers(session: Session, lines: Iterable[str], *, operator: Operator, source: str, actor: str,
                   now: datetime, progress: Progress | None = None) -> int:
    """Check the whole number file, then add every number to the operator's holding; nothing if any row is bad."""
    numbers = read_numbers(session, lines, operator=operator)
    ref = source[-120:]
    insert_rows = repository.bulk_inserter(session, NetworkNumber.__table__, ["msisdn"], {
        "operator_id": operator.id, "import_ref": ref, "imported_at": now})
    for start in range(0, len(numbers), INSERT_BATCH):
        chunk = numbers[start:start + INSERT_BATCH]
        insert_rows([(m,) for _, m in chunk])
        if progress:
            progress(start + len(chunk), len(numbers))
    audit.record(session, actor=actor, action="numbers.import", subject_type="operator", subject_id=operator.id,
                 reason=f"number file {ref}", details={"numbers": len(numbers), "first": masked(numbers[0][1]),
                                                       "last": masked(numbers[-1][1])}, now=now)
    return len(numbers)


# -- a line's card ----------------------------------------------------------------------------------------------------

def assign(session: Session, *, line: LineRef, iccid: str, actor: str, reason: str, now: datetime) -> Sim:
    """Bind a card from stock to a line that has none: the network is told to hold it in the line's state."""
    _check_live(line)
    if repository.assigned_sim(session, line.id, lock=True) is not None:
        raise LineHasSim()
    sim = _stock_card(session, line, iccid)
    repository.set_state(session, sim, state=ASSIGNED, line_id=line.id, now=now)
    seq = service.bind(session, line_id=line.id, operator_id=line.operator_id, msisdn=line.msisdn,
                       line_state=line.state, imsi=sim.imsi, reason="bind", now=now)
    audit.record(session, actor=actor, action="sim.assign", subject_type="line", subject_id=str(line.id),
                 reason=reason, details={"iccid": sim.iccid, "imsi": sim.imsi, "seq": seq}, now=now)
    return sim


def swap(session: Session, *, line: LineRef, new_iccid: str, actor: str, reason: str, lost: bool = False,
         now: datetime) -> Sim:
    """A new card for the line's number (the old one lost, stolen or broken): the old card is retired (or marked
    lost) and its IMSI removed from the HLR, then the new one is bound in the line's state: in that order, in one
    transaction, so the number is never on two cards."""
    _check_live(line)
    old = repository.assigned_sim(session, line.id, lock=True)
    if old is None:
        raise LineHasNoSim()
    new = _stock_card(session, line, new_iccid)
    _drop(session, old, line=line, state=LOST if lost else RETIRED, why="lost" if lost else "swap", now=now)
    repository.set_state(session, new, state=ASSIGNED, line_id=line.id, now=now)
    seq = service.bind(session, line_id=line.id, operator_id=line.operator_id, msisdn=line.msisdn,
                       line_state=line.state, imsi=new.imsi, reason="swap", now=now)
    audit.record(session, actor=actor, action="sim.swap", subject_type="line", subject_id=str(line.id),
                 reason=reason, details={"old_iccid": old.iccid, "old_state": old.state, "iccid": new.iccid,
                                         "imsi": new.imsi, "seq": seq}, now=now)
    return new


def report_lost(session: Session, *, line: LineRef, actor: str, reason: str, now: datetime) -> Sim:
    """The line's card is lost or stolen and no new one is at hand: its IMSI leaves the HLR at once, and the line has
    no card (nothing to provision) until one is assigned."""
    old = repository.assigned_sim(session, line.id, lock=True)
    if old is None:
        raise LineHasNoSim()
    _drop(session, old, line=line, state=LOST, why="lost", now=now)
    repository.forget_line(session, line.id)
    audit.record(session, actor=actor, action="sim.lost", subject_type="line", subject_id=str(line.id),
                 reason=reason, details={"iccid": old.iccid, "imsi": old.imsi}, now=now)
    return old


def _drop(session: Session, sim: Sim, *, line: LineRef, state: str, why: str, now: datetime) -> None:
    """The card leaves the line: its state, then its IMSI removed from the HLR (not the line's desired state)."""
    repository.set_state(session, sim, state=state, line_id=line.id, now=now)
    service.write(session, service.Command(line.id, sim.imsi, None, ABSENT, why), track=False, now=now)


def _check_live(line: LineRef) -> None:
    if line.state not in LIVE_STATES:
        raise LineNotLive()


def _stock_card(session: Session, line: LineRef, iccid: str) -> Sim:
    sim = repository.sim_by_iccid(session, clean_iccid(iccid), lock=True)
    if sim is None:
        raise SimNotFound()
    if sim.operator_id != line.operator_id:
        raise SimWrongOperator()
    if sim.state != IN_STOCK:
        raise SimNotInStock()
    return sim
