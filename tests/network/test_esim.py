"""eSIM profiles: the provider's file, the activation code and its QR, the sealed matching ID, binding to a line."""

from __future__ import annotations

import pytest
import segno
from sqlalchemy import select, text, update

from simkeep.catalog import service as catalog
from simkeep.core.errors import EsimImportRefused, EsimLinkInvalid, EsimUnavailable
from simkeep.core.ids import new_id
from simkeep.network import esim, service
from simkeep.network.inventory import LineRef
from simkeep.network.models import (
    ABSENT,
    ASSIGNED,
    CS_PS,
    ESIM,
    IN_STOCK,
    PHYSICAL,
    RETIRED,
    EsimProfile,
    NetworkLine,
    ProvisioningCommand,
    Sim,
)
from simkeep.store import esim as giving
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.network.esim_factory import SMDP, csv_text, iccid, imsi, matching_id, stock
from tests.web import race

OPERATOR = "fr-orange-mobicarte"


# -- the activation code ---------------------------------------------------------------------------------------------

def test_activation_code_is_sgp22_with_its_optional_fields():
    assert esim.ActivationCode(SMDP, "QR-G-5C-1LS-1W1Z9P7").qr_text == "LPA:1$smdp.example.com$QR-G-5C-1LS-1W1Z9P7"
    assert esim.ActivationCode(SMDP, "04386-AGYFT-A74Y8-3F815", "1.3.6.1.4.1.31746").text == \
        "1$smdp.example.com$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746"
    # Only the confirmation-code flag: the OID field stays, empty.
    assert esim.ActivationCode(SMDP, "04386-AGYFT-A74Y8-3F815", None, True).qr_text == \
        "LPA:1$smdp.example.com$04386-AGYFT-A74Y8-3F815$$1"
    assert esim.ActivationCode(SMDP, "04386-AGYFT-A74Y8-3F815", "1.3.6.1.4.1.31746", True).text == \
        "1$smdp.example.com$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746$1"
    assert "AGYFT" not in repr(esim.ActivationCode(SMDP, "04386-AGYFT-A74Y8-3F815"))


def test_the_qr_code_holds_the_code_exactly():
    code = esim.ActivationCode(SMDP, "QR-G-5C-1LS-1W1Z9P7")
    made = esim.qr(code)
    expected = segno.make_qr("LPA:1$smdp.example.com$QR-G-5C-1LS-1W1Z9P7", error="m", boost_error=False)
    assert (made.designator, made.mode) == ("3-M", "byte")
    assert list(made.matrix) == list(expected.matrix)
    svg = esim.qr_svg(code)
    assert svg.startswith("<svg") and "<title>eSIM QR code</title>" in svg


# -- the provider's file ---------------------------------------------------------------------------------------------

def test_import_stocks_each_profile_as_an_esim_card_with_its_id_sealed(db, settings):
    assert stock(db, settings, range(1, 4), now=T0) == 3
    with db.transaction(write=False) as session:
        sims = session.scalars(select(Sim).order_by(Sim.iccid)).all()
        profiles = {p.sim_id: p for p in session.scalars(select(EsimProfile))}
        raw = session.execute(text("SELECT matching_id_sealed FROM esim_profiles")).scalars().all()
        assert esim.in_stock(session, OPERATOR) == 3
    assert [(s.iccid, s.imsi, s.kind, s.state, s.line_id, s.profile) for s in sims] == [
        (iccid(n), imsi(n), ESIM, IN_STOCK, None, "esim-v1") for n in (1, 2, 3)]
    assert {(p.smdp_address, p.smdp_oid, p.confirmation_code_required) for p in profiles.values()} == {
        (SMDP, None, False)}
    assert all(v.startswith("v1:") and "QR-G-5C" not in v for v in raw)
    assert not any(matching_id(n) in " ".join(raw) for n in (1, 2, 3))


def test_optional_columns_are_read(db, settings):
    body = ("ICCID,IMSI,SMDP_Address,Matching_ID,SMDP_OID,Confirmation_Code_Required\n"
            f"{iccid(7)},{imsi(7)},SMDP.Example.COM,{matching_id(7)},1.3.6.1.4.1.31746,1\n")
    with db.transaction() as session:
        esim.import_profiles(session, text=body, operator=catalog.get_operator(session, OPERATOR), profile="p",
                             import_ref="f.csv", key=esim.seal_key(settings), actor="test", now=T0)
        profile = session.scalars(select(EsimProfile)).one()
        code = esim.activation_code(session, esim.get(session, profile.sim_id), key=esim.seal_key(settings))
    assert code.text == f"1$smdp.example.com${matching_id(7)}$1.3.6.1.4.1.31746$1"


def test_a_file_with_bad_rows_is_refused_whole_with_line_numbers(db, settings):
    bad_check = iccid(2)[:-1] + str((int(iccid(2)[-1]) + 1) % 10)
    body = csv_text(range(1, 2)) + "\n".join([
        f"{bad_check},{imsi(2)},{SMDP},{matching_id(2)}",
        f"{iccid(3)},{imsi(3)},https://smdp.example.com/,{matching_id(3)}",
        f"{iccid(4)},{imsi(4)},{SMDP},lower-case-id",
        f"{iccid(1)},{imsi(5)},{SMDP},{matching_id(5)}",
        f"{iccid(6)},2080100,{SMDP},{matching_id(6)}",
        f"{iccid(9)},310150123456789,{SMDP},{matching_id(9)}",
        f"{iccid(8)},{imsi(8)},{SMDP},{matching_id(8)}",
    ]) + "\n"
    with pytest.raises(EsimImportRefused) as refused, db.transaction() as session:
        esim.import_profiles(session, text=body, operator=catalog.get_operator(session, OPERATOR), profile="p",
                             import_ref="f.csv", key=esim.seal_key(settings), actor="test", now=T0)
    assert refused.value.problems == [
        f"line 3: ICCID {bad_check} fails its Luhn check digit",
        "line 4: the SM-DP+ address 'https://smdp.example.com/' is not a host name like smdp.example.com",
        "line 5: the matching ID must be 1 to 255 upper-case letters, digits or -",
        f"line 6: {iccid(1)} is also on line 2",
        "line 7: IMSI '2080100' is not 15 digits",
        "line 8: IMSI 310150123456789 is not of the operator's network (MCC-MNC 20801)",
    ]
    assert "lower-case-id" not in str(refused.value.details)
    with db.transaction(write=False) as session:
        assert session.scalars(select(Sim)).all() == []


def test_a_profile_already_in_stock_refuses_the_file(db, settings):
    stock(db, settings, range(1, 3), now=T0)
    with pytest.raises(EsimImportRefused) as refused:
        stock(db, settings, range(2, 5), now=T0)
    assert refused.value.problems == [f"line 2: {iccid(2)} is already in the inventory"]
    with db.transaction(write=False) as session:
        assert esim.in_stock(session, OPERATOR) == 2


def test_a_file_without_the_columns_is_refused(db, settings):
    with pytest.raises(EsimImportRefused) as refused, db.transaction() as session:
        esim.import_profiles(session, text="iccid,imsi\n", operator=catalog.get_operator(session, OPERATOR),
                             profile="p", import_ref="f", key=esim.seal_key(settings), actor="test", now=T0)
    assert refused.value.problems == ["line 1: missing column(s) smdp_address, matching_id"]


# -- binding to a line -----------------------------------------------------------------------------------------------

def _assign(db, line, *, now=T0):
    with db.transaction() as session:
        return esim.assign(session, line=LineRef(line.id, line.msisdn, line.operator_id, line.state),
                           actor="staff:agent", now=now)


def test_assigning_binds_the_profile_and_writes_its_command(db, settings):
    stock(db, settings, range(1, 3), now=T0)
    line = make_line(db, now=T0)
    given = _assign(db, line)
    assert (given.esim.iccid, given.esim.state, given.esim.line_id, given.replaced_iccid) == (
        iccid(1), ASSIGNED, line.id, None)
    with db.transaction(write=False) as session:
        commands = session.scalars(select(ProvisioningCommand)).all()
        network = session.get_one(NetworkLine, line.id)
        assert esim.of_line(session, line.id) == given.esim
        assert esim.in_stock(session, OPERATOR) == 1
        code = esim.activation_code(session, given.esim, key=esim.seal_key(settings))
    assert [(c.seq, c.imsi, c.msisdn, c.mode, c.reason) for c in commands] == [
        (1, imsi(1), line.msisdn, CS_PS, "bind")]
    assert (network.imsi, network.desired, network.desired_seq) == (imsi(1), CS_PS, 1)
    assert code.qr_text == f"LPA:1${SMDP}${matching_id(1)}"


def test_a_line_with_a_card_swaps_to_esim_and_the_card_leaves_the_network_first(db, settings):
    stock(db, settings, range(1, 2), now=T0)
    line = make_line(db, now=T0)
    with db.transaction() as session:
        session.add(Sim(id=new_id(), iccid=iccid(900), imsi=imsi(900),
                        operator_id=OPERATOR, profile="usim", kind=PHYSICAL, state=ASSIGNED, line_id=line.id,
                        import_ref="cards.csv", imported_at=T0, state_changed_at=T0))
        session.flush()
        service.bind(session, line_id=line.id, operator_id=OPERATOR, msisdn=line.msisdn, line_state=line.state,
                     imsi=imsi(900), reason="bind", now=T0)
    given = _assign(db, line)
    assert given.replaced_iccid == iccid(900)
    with db.transaction(write=False) as session:
        commands = session.scalars(select(ProvisioningCommand).order_by(ProvisioningCommand.seq)).all()
        card = session.scalars(select(Sim).where(Sim.iccid == iccid(900))).one()
        network = session.get_one(NetworkLine, line.id)
    assert [(c.seq, c.imsi, c.msisdn, c.mode, c.reason) for c in commands] == [
        (1, imsi(900), line.msisdn, CS_PS, "bind"), (2, imsi(900), None, ABSENT, "swap"),
        (3, imsi(1), line.msisdn, CS_PS, "swap")]
    assert (card.state, network.imsi, network.desired_seq) == (RETIRED, imsi(1), 3)


def test_without_stock_nothing_moves(db, settings):
    stock(db, settings, range(1, 2), now=T0)
    line = make_line(db, msisdn="+33612345679", now=T0)
    with db.transaction() as session:  # the one profile in stock is another operator's
        session.execute(update(Sim).values(operator_id="fr-sfr-la-carte"))
    with pytest.raises(EsimUnavailable):
        _assign(db, line)
    with db.transaction(write=False) as session:
        assert session.scalars(select(ProvisioningCommand)).all() == []
        assert session.get(NetworkLine, line.id) is None
        assert esim.in_stock(session, "fr-sfr-la-carte") == 1


# -- the public link -------------------------------------------------------------------------------------------------

def test_the_link_shows_the_code_once(db, settings):
    stock(db, settings, range(1, 2), now=T0)
    given = _assign(db, make_line(db, now=T0))
    token = esim.link_token("k" * 64, given.esim)
    with db.transaction() as session:
        found = esim.open_link(session, keys=["k" * 64], token=token, max_age_seconds=3600)
        assert esim.take_public_view(session, found, now=T0) is True
        assert esim.take_public_view(session, found, now=T0) is False
        assert esim.get(session, found.sim_id).shown_publicly_at == T0
    with pytest.raises(EsimLinkInvalid), db.transaction() as session:
        esim.open_link(session, keys=["another-key" * 6], token=token, max_age_seconds=3600)
    with pytest.raises(EsimLinkInvalid), db.transaction() as session:
        esim.open_link(session, keys=["k" * 64], token=token[:-2] + "xx", max_age_seconds=3600)


def test_agents_giving_esims_at_once_never_share_a_profile(db, settings):
    """Four lines, three profiles, four counters at the same instant: three distinct profiles, one clear refusal."""
    stock(db, settings, range(1, 4), now=T0)
    numbers = [f"+3361234567{n}" for n in range(4)]
    for number in numbers:
        make_line(db, msisdn=number, now=T0)

    def give(i: int):
        try:
            return db.write(lambda session: giving.give_esim(session, msisdn=numbers[i], actor=f"staff:{i}",
                                                             settings=settings, now=T0)).esim.iccid
        except EsimUnavailable:
            return None

    given = race(4, give)
    assert sorted(g for g in given if g) == [iccid(1), iccid(2), iccid(3)] and given.count(None) == 1
    with db.transaction(write=False) as session:
        commands = session.scalars(select(ProvisioningCommand)).all()
        assert esim.in_stock(session, OPERATOR) == 0
    assert sorted(c.imsi for c in commands) == [imsi(1), imsi(2), imsi(3)]
