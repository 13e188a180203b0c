"""SIM and number inventory: vendor files checked whole, a card bound to a line, swapped, reported lost."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from simkeep.audit.models import AuditEntry
from simkeep.catalog.models import Operator
from simkeep.core.errors import (
    InventoryFileRefused,
    LineHasNoSim,
    LineHasSim,
    LineNotLive,
    SimNotFound,
    SimNotInStock,
    SimWrongOperator,
)
from simkeep.network import inventory, service
from simkeep.network.inventory import LineRef
from simkeep.network.models import NetworkLine, NetworkNumber, ProvisioningCommand, Sim
from tests.conftest import T0
from tests.factories.lines import make_line

ORANGE, SFR = "fr-orange-mobicarte", "fr-sfr-la-carte"


def iccid(n: int, prefix: str = "893301") -> str:
    """A 19-digit ICCID with its Luhn check digit."""
    body = f"{prefix}{n:012d}"
    return body + next(str(d) for d in range(10) if inventory.luhn_ok(body + str(d)))


def imsi(n: int, mcc_mnc: str = "20801") -> str:
    return f"{mcc_mnc}{n:010d}"


def sim_file(*rows: str, header: str = "ICCID,IMSI,Ki,OPc,Profile") -> list[str]:
    return [header + "\n", *(r + "\n" for r in rows)]


def load_sims(db, lines: list[str], operator_id: str = ORANGE) -> int:
    with db.transaction() as session:
        return inventory.import_sims(session, lines, operator=session.get(Operator, operator_id),
                                     source="vendor-batch-7.csv", actor="staff:alice", now=T0)


def stock(db, *numbers: int, operator_id: str = ORANGE, mcc_mnc: str = "20801") -> list[str]:
    load_sims(db, sim_file(*(f"{iccid(n)},{imsi(n, mcc_mnc)},00112233445566778899AABBCCDDEEFF,"
                             f"FFEEDDCCBBAA99887766554433221100,usim-2026" for n in numbers)), operator_id)
    return [iccid(n) for n in numbers]


def ref(db, msisdn: str = "+33612345678") -> LineRef:
    line = make_line(db, msisdn=msisdn, now=T0)
    return LineRef(line.id, line.msisdn, line.operator_id, line.state)


def sims(db) -> dict[str, tuple[str, object]]:
    with db.transaction(write=False) as s:
        return {x.iccid: (x.state, x.line_id) for x in s.scalars(select(Sim))}


def commands(db) -> list[tuple[int, str, str | None, str, str]]:
    with db.transaction(write=False) as s:
        return [tuple(r) for r in s.execute(
            select(ProvisioningCommand.seq, ProvisioningCommand.imsi, ProvisioningCommand.msisdn,
                   ProvisioningCommand.mode, ProvisioningCommand.reason).order_by(ProvisioningCommand.seq))]


def audit_actions(db) -> list[str]:
    with db.transaction(write=False) as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.at, AuditEntry.id)))


def refused(db, lines: list[str], operator_id: str = ORANGE, *, numbers: bool = False) -> list[dict]:
    with pytest.raises(InventoryFileRefused) as caught, db.transaction() as session:
        operator = session.get(Operator, operator_id)
        if numbers:
            inventory.import_numbers(session, lines, operator=operator, source="n.csv", actor="staff:alice", now=T0)
        else:
            inventory.import_sims(session, lines, operator=operator, source="v.csv", actor="staff:alice", now=T0)
    return [{"line": r["line"], "reason": r["reason"]} for r in caught.value.details["rows"]]


# -- checks -------------------------------------------------------------------------------------------------------

def test_luhn_and_the_iccid_rules():
    assert inventory.luhn_ok("89014103211118510720") is True  # a US card's ICCID, as printed
    assert inventory.luhn_ok("89014103211118510721") is False
    assert inventory.luhn_ok("79927398713") is True  # the textbook example
    assert inventory.clean_iccid(" 8933 0100 0000 0000 010 f ") == "8933010000000000010"
    assert inventory.iccid_problem(iccid(5)) is None
    assert str(inventory.iccid_problem("8933010000000000")) == "ICCID 8933010000000000 has 16 digits, not 18 to 20"
    assert str(inventory.imsi_problem("208150000000001", ["20801", "20802"])) == (
        "IMSI 208150000000001 is not of the operator's network (MCC-MNC 20801, 20802)")
    assert inventory.imsi_problem("208150000000001", []) is None


# -- SIM imports --------------------------------------------------------------------------------------------------

def test_a_vendor_file_puts_every_card_in_stock_and_keeps_no_key(db):
    lines = sim_file(f"{iccid(1)},{imsi(1)},00112233445566778899AABBCCDDEEFF,FFEEDDCCBBAA99887766554433221100,usim-a",
                     "", f"{iccid(2)}F,{imsi(2)},0102030405060708090A0B0C0D0E0F10,100F0E0D0C0B0A090807060504030201,")
    assert load_sims(db, lines) == 2
    with db.transaction(write=False) as s:
        cards = s.scalars(select(Sim).order_by(Sim.iccid)).all()
        assert [(c.iccid, c.imsi, c.profile, c.kind, c.state, c.operator_id, c.import_ref, c.line_id)
                for c in cards] == [
            (iccid(1), imsi(1), "usim-a", "physical", "in_stock", ORANGE, "vendor-batch-7.csv", None),
            (iccid(2), imsi(2), "standard", "physical", "in_stock", ORANGE, "vendor-batch-7.csv", None)]
        entry = s.scalars(select(AuditEntry)).one()
        assert (entry.actor, entry.action, entry.subject_id, entry.details) == (
            "staff:alice", "sims.import", ORANGE, {"cards": 2, "first_iccid": iccid(1), "last_iccid": iccid(2)})
        stored = " ".join(str(v) for c in cards for v in vars(c).values()) + str(entry.details) + entry.reason
    assert "00112233" not in stored and "FFEEDDCC" not in stored and "0102030405" not in stored


def test_semicolons_and_the_kind_column(db):
    load_sims(db, ["iccid;imsi;type\n", f"{iccid(3)};{imsi(3)};eSIM\n"])
    with db.transaction(write=False) as s:
        assert s.execute(select(Sim.kind, Sim.profile)).one() == ("esim", "standard")


def test_a_file_with_bad_rows_is_refused_whole_with_every_line_number(db):
    stock(db, 90)
    lines = sim_file(
        f"{iccid(1)},{imsi(1)},k,o,p",                     # line 2: good
        f"{iccid(2)[:-1]}{(int(iccid(2)[-1]) + 1) % 10},{imsi(2)},k,o,p",  # line 3: check digit off by one
        f"8933010000000A0002,{imsi(3)},k,o,p",             # line 4: a letter
        f"89330100000000017,{imsi(4)},k,o,p",              # line 5: too short
        f"{iccid(5)},{imsi(5, '20815')},k,o,p",            # line 6: Free's IMSI on an Orange file
        f"{iccid(6)},2080100000006,k,o,p",                 # line 7: IMSI of 13 digits
        f"{iccid(1)},{imsi(7)},k,o,p",                     # line 8: ICCID of line 2 again
        f"{iccid(90)},{imsi(8)},k,o,p",                    # line 9: already in stock
    )
    before = sims(db)
    rows = refused(db, lines)
    bad_check = f"{iccid(2)[:-1]}{(int(iccid(2)[-1]) + 1) % 10}"
    assert rows == [
        {"line": 3, "reason": f"ICCID {bad_check} fails its Luhn check digit"},
        {"line": 4, "reason": "ICCID '8933010000000A0002' has characters other than digits"},
        {"line": 5, "reason": "ICCID 89330100000000017 has 17 digits, not 18 to 20"},
        {"line": 6, "reason": f"IMSI {imsi(5, '20815')} is not of the operator's network (MCC-MNC 20801)"},
        {"line": 7, "reason": "IMSI '2080100000006' is not 15 digits"},
        {"line": 8, "reason": f"ICCID {iccid(1)} is also on line 2"},
        {"line": 9, "reason": f"ICCID {iccid(90)} is already in the inventory"},
    ]
    assert sims(db) == before and audit_actions(db) == ["sims.import"]


def test_a_file_without_the_columns_or_cards_is_refused(db):
    assert refused(db, ["serial,ki\n", "1,2\n"]) == [{"line": 1, "reason": "the header has no iccid column"}]
    assert refused(db, ["ICCID,IMSI\n", "\n"]) == [{"line": 1, "reason": "the file has no cards"}]
    assert sims(db) == {}


# -- number imports -----------------------------------------------------------------------------------------------

def test_numbers_one_per_row_and_in_ranges(db):
    with db.transaction() as session:
        count = inventory.import_numbers(
            session, ["msisdn,first,last\n", "06 12 00 00 01,,\n", ",+33612000010,+33612000012\n"],
            operator=session.get(Operator, ORANGE), source="ranges.csv", actor="staff:alice", now=T0)
    assert count == 4
    with db.transaction(write=False) as s:
        assert list(s.scalars(select(NetworkNumber.msisdn).order_by(NetworkNumber.msisdn))) == [
            "+33612000001", "+33612000010", "+33612000011", "+33612000012"]


def test_a_number_file_with_bad_rows_is_refused_whole(db):
    with db.transaction() as session:
        inventory.import_numbers(session, ["msisdn\n", "+33612000001\n"], operator=session.get(Operator, ORANGE),
                                 source="a.csv", actor="staff:alice", now=T0)
    rows = refused(db, ["msisdn,first,last\n", "+33612000002,,\n", "+33612000001,,\n", "0145678901,,\n",
                        ",+33612000005,+33612000003\n", ",+33612000002,+33612000003\n"], numbers=True)
    assert rows == [
        {"line": 3, "reason": "+33612000001 is already in the inventory"},
        {"line": 4, "reason": "0145678901 is not a mobile number of the operator's country"},
        {"line": 5, "reason": "the range +33612000005-+33612000003 does not run upwards between numbers of one length"},
        {"line": 6, "reason": "+33612000002 is also on line 2"},
    ]
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(NetworkNumber)) == 1


# -- a line's card ------------------------------------------------------------------------------------------------

def test_assign_binds_the_card_and_queues_the_first_command(db):
    [card] = stock(db, 1)
    line = ref(db)
    with db.transaction() as session:
        inventory.assign(session, line=line, iccid=card, actor="staff:alice", reason="new subscriber", now=T0)
    assert sims(db) == {card: ("assigned", line.id)}
    assert commands(db) == [(1, imsi(1), "+33612345678", "cs+ps", "bind")]
    with db.transaction(write=False) as s:
        row = s.get(NetworkLine, line.id)
        assert (row.imsi, row.desired, row.desired_seq, row.line_state, row.confirmed) == (
            imsi(1), "cs+ps", 1, "active", None)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "sim.assign")).one()
        assert (entry.subject_type, entry.subject_id, entry.reason, entry.details) == (
            "line", str(line.id), "new subscriber", {"iccid": card, "imsi": imsi(1), "seq": 1})


def test_swap_removes_the_old_imsi_before_binding_the_new_one(db):
    old, new = stock(db, 1, 2)
    line = ref(db)
    with db.transaction() as session:
        inventory.assign(session, line=line, iccid=old, actor="staff:alice", reason="new subscriber", now=T0)
    with db.transaction() as session:
        inventory.swap(session, line=line, new_iccid=new, actor="staff:bob", reason="card broken", now=T0)
    assert sims(db) == {old: ("retired", line.id), new: ("assigned", line.id)}
    assert commands(db) == [(1, imsi(1), "+33612345678", "cs+ps", "bind"),
                            (2, imsi(1), None, "absent", "swap"),
                            (3, imsi(2), "+33612345678", "cs+ps", "swap")]
    with db.transaction(write=False) as s:
        row = s.get(NetworkLine, line.id)
        assert (row.imsi, row.desired, row.desired_seq) == (imsi(2), "cs+ps", 3)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "sim.swap")).one()
        assert (entry.actor, entry.reason, entry.details) == ("staff:bob", "card broken", {
            "old_iccid": old, "old_state": "retired", "iccid": new, "imsi": imsi(2), "seq": 3})


def test_a_swap_for_a_lost_card_marks_it_lost_and_keeps_the_lines_state(db):
    old, new = stock(db, 1, 2)
    line = ref(db)
    with db.transaction() as session:
        inventory.assign(session, line=line, iccid=old, actor="staff:alice", reason="new", now=T0)
        service.follow(session, [(line.id, "grace")], now=T0)
    suspended = LineRef(line.id, line.msisdn, line.operator_id, "grace")
    with db.transaction() as session:
        inventory.swap(session, line=suspended, new_iccid=new, actor="staff:bob", reason="stolen", lost=True, now=T0)
    assert sims(db) == {old: ("lost", line.id), new: ("assigned", line.id)}
    assert commands(db)[-2:] == [(3, imsi(1), None, "absent", "lost"), (4, imsi(2), "+33612345678", "cs", "swap")]


def test_a_card_reported_lost_leaves_the_hlr_and_later_states_do_not_bring_it_back(db):
    old, new = stock(db, 1, 2)
    line = ref(db)
    with db.transaction() as session:
        inventory.assign(session, line=line, iccid=old, actor="staff:alice", reason="new", now=T0)
    with db.transaction() as session:
        inventory.report_lost(session, line=line, actor="staff:bob", reason="stolen on the bus", now=T0)
        assert session.get(NetworkLine, line.id) is None
        assert service.follow(session, [(line.id, "grace")], now=T0) == 0  # nothing for the lost card
    assert sims(db) == {old: ("lost", line.id), new: ("in_stock", None)}
    assert commands(db) == [(1, imsi(1), "+33612345678", "cs+ps", "bind"), (2, imsi(1), None, "absent", "lost")]
    with db.transaction() as session:
        inventory.assign(session, line=line, iccid=new, actor="staff:bob", reason="replacement", now=T0)
    assert commands(db)[-1] == (3, imsi(2), "+33612345678", "cs+ps", "bind")
    assert audit_actions(db)[-3:] == ["sim.assign", "sim.lost", "sim.assign"]


def test_a_deactivated_line_retires_its_card(db):
    [card] = stock(db, 1)
    line = ref(db)
    with db.transaction() as session:
        inventory.assign(session, line=line, iccid=card, actor="staff:alice", reason="new", now=T0)
        service.follow(session, [(line.id, "suspended"), (line.id, "deactivated")], now=T0)
    assert sims(db) == {card: ("retired", line.id)}
    assert commands(db)[-1] == (2, imsi(1), None, "absent", "deactivated")


def test_refusals_are_clear_and_move_nothing(db):
    mine, other, spare = stock(db, 1, 2, 3)
    sfr = stock(db, 50, operator_id=SFR, mcc_mnc="20810")[0]
    line, second = ref(db), ref(db, "+33612345679")
    with db.transaction() as session:
        inventory.assign(session, line=line, iccid=mine, actor="staff:alice", reason="new", now=T0)
    before = (sims(db), commands(db), audit_actions(db))
    cases = [
        (LineHasSim, lambda s: inventory.assign(s, line=line, iccid=other, actor="a", reason="r", now=T0)),
        (SimNotInStock, lambda s: inventory.assign(s, line=second, iccid=mine, actor="a", reason="r", now=T0)),
        (SimWrongOperator, lambda s: inventory.assign(s, line=second, iccid=sfr, actor="a", reason="r", now=T0)),
        (SimNotFound, lambda s: inventory.assign(s, line=second, iccid=iccid(77), actor="a", reason="r", now=T0)),
        (LineHasNoSim, lambda s: inventory.swap(s, line=second, new_iccid=spare, actor="a", reason="r", now=T0)),
        (LineHasNoSim, lambda s: inventory.report_lost(s, line=second, actor="a", reason="r", now=T0)),
        (SimNotInStock, lambda s: inventory.swap(s, line=line, new_iccid=mine, actor="a", reason="r", now=T0)),
        (SimWrongOperator, lambda s: inventory.swap(s, line=line, new_iccid=sfr, actor="a", reason="r", now=T0)),
        (LineNotLive, lambda s: inventory.assign(
            s, line=LineRef(second.id, second.msisdn, second.operator_id, "deactivated"), iccid=other, actor="a",
            reason="r", now=T0)),
    ]
    for error, act in cases:
        with pytest.raises(error), db.transaction() as session:
            act(session)
    assert (sims(db), commands(db), audit_actions(db)) == before
