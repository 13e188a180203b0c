"""`simkeep network sims|numbers ...`: imports with a progress bar and every bad row listed, a line's card swapped
by a named staff member whose role allows it."""

from __future__ import annotations

from sqlalchemy import select

from simkeep.network.models import NetworkNumber, ProvisioningCommand, Sim
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.staff import make_staff
from tests.network.test_inventory import iccid, imsi, stock

ORANGE, MSISDN = "fr-orange-mobicarte", "+33612345678"


def cards(db) -> dict[str, str]:
    with db.transaction(write=False) as session:
        return {c.iccid: c.state for c in session.scalars(select(Sim))}


def test_import_a_vendor_file_and_a_number_range(db, cli, tmp_path):
    sims = tmp_path / "batch-7.csv"
    sims.write_text("ICCID;IMSI;KI;OPC\n" + "".join(f"{iccid(n)};{imsi(n)};00112233445566778899AABBCCDDEEFF;"
                                                     f"FFEEDDCCBBAA99887766554433221100\n" for n in range(1, 6)))
    output = cli("network", "sims", "import", str(sims), "--operator", ORANGE)
    assert "5 cards of fr-orange-mobicarte imported from batch-7.csv" in output
    assert "00112233" not in output and cards(db) == dict.fromkeys(map(iccid, range(1, 6)), "in_stock")
    numbers = tmp_path / "range.csv"
    numbers.write_text("first,last\n06 12 00 00 00,06 12 00 00 09\n")
    assert "10 numbers of fr-orange-mobicarte imported from range.csv" in cli(
        "network", "numbers", "import", str(numbers), "--operator", ORANGE)
    with db.transaction(write=False) as session:
        assert session.scalars(select(NetworkNumber.msisdn).order_by(NetworkNumber.msisdn)).first() == "+33612000000"


def test_a_bad_file_lists_every_bad_row_and_imports_nothing(db, cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(f"ICCID,IMSI,Ki\n{iccid(1)},{imsi(1)},AABB\n{iccid(1)},{imsi(2)},CCDD\n"
                    f"8933ABC,{imsi(3)},EEFF\n{iccid(4)},{imsi(4, '23415')},0011\n")
    output = cli("network", "sims", "import", str(path), "--operator", ORANGE, code=1)
    assert f"line 3: ICCID {iccid(1)} is also on line 2" in output
    assert "line 4: ICCID '8933ABC' has characters other than digits" in output
    assert f"line 5: IMSI {imsi(4, '23415')} is not of the operator's network (MCC-MNC 20801)" in output
    assert "3 bad row(s): nothing was imported" in output and "inventory_file_refused" in output
    assert "AABB" not in output and "EEFF" not in output and cards(db) == {}


def test_swap_by_an_admin_and_not_by_support(db, cli, settings):
    first, second = stock(db, 1, 2)
    make_line(db, msisdn=MSISDN, now=T0)
    make_staff(db, settings, username="alice", role="admin")
    make_staff(db, settings, username="sam", role="support")
    cli("network", "sims", "assign", MSISDN, first, "--reason", "new subscriber", "--as", "alice")
    refused = cli("network", "sims", "swap", MSISDN, second, "--reason", "broken", "--as", "sam", code=1)
    assert "support" in refused and cards(db) == {first: "assigned", second: "in_stock"}
    output = cli("network", "sims", "swap", "06 12 34 56 78", second, "--reason", "broken", "--as", "alice")
    assert f"+33612345678: now on card {second} (IMSI {imsi(2)})" in output
    assert cards(db) == {first: "retired", second: "assigned"}
    with db.transaction(write=False) as session:
        assert list(session.scalars(select(ProvisioningCommand.mode).order_by(ProvisioningCommand.seq))) == [
            "cs+ps", "absent", "cs+ps"]
    assert "not_in_stock" in cli("network", "sims", "swap", MSISDN, first, "--reason", "x", "--as", "alice", code=1)
