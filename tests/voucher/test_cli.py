"""`simkeep voucher ...` and `simkeep reseller ...`: exact output, the printer's file, nothing left or moved on failure,
the second approver, and `ledger verify` over the voucher liability."""

from __future__ import annotations

import csv
import re
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from simkeep.audit.models import AuditEntry
from simkeep.voucher import pins
from simkeep.voucher.export import CSV_HEADER
from simkeep.voucher.models import BulkAction, Voucher, VoucherBatch
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.factories.staff import make_staff
from tests.factories.vouchers import KEYS, make_batch, make_reseller, redeem, sell, sold_cards


@pytest.fixture(autouse=True)
def _frozen(monkeypatch):
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0)


@pytest.fixture
def staff(db, settings):
    """alice (finance) and bob (admin) may manage vouchers and resellers; sam (support) may only look."""
    return {name: make_staff(db, settings, username=name, role=role, now=T0)
            for name, role in (("alice", "finance"), ("bob", "admin"), ("sam", "support"))}


def rows(out: str) -> list[list[str]]:
    """A Rich table's body rows, as lists of cells."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]


def states(db) -> dict[int, str]:
    with db.transaction(write=False) as session:
        return dict(session.execute(select(Voucher.serial, Voucher.state).order_by(Voucher.serial)).all())


def audit(db, action: str) -> list[tuple[str, str]]:
    with db.transaction(write=False) as session:
        return [(a.actor, a.reason) for a in session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.at, AuditEntry.id))]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


# -- batch create -------------------------------------------------------------------------------------------------

def test_batch_create_writes_the_printers_file_once_chunk_by_chunk(cli, db, staff, tmp_path, monkeypatch):
    monkeypatch.setattr("simkeep.voucher.service.CHUNK", 5)  # 12 cards: three chunks
    out = cli("voucher", "batch", "create", "--offer", "fr-orange-mobicarte-10", "--quantity", "12",
              "--expires", "2027-12-31", "--reason", "print run 1", "--out", str(tmp_path / "cards"), "--as", "alice")
    with db.transaction(write=False) as session:
        batch = session.scalars(select(VoucherBatch)).one()
        hashes = dict(session.execute(select(Voucher.serial, Voucher.pin_hash)).all())
    path = tmp_path / "cards" / "batch-100000000001-100000000012.csv"
    assert out.splitlines()[-4:] == [
        f"batch {batch.id}: 12 cards of fr-orange-mobicarte-10 (€10.00 each), valid through 2027-12-31 "
        "(Europe/Paris)",
        "serials 100000000001-100000000012, stock until sold (`simkeep voucher sell 100000000001-100000000012 "
        "--reseller CODE ...`)",
        f"PINs written to {path} (mode 600)",
        "These PINs will never be shown again: simkeep keeps only their hashes. Send the file to the card printer, "
        "keep it safe, then delete it."]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header, *cards = read_csv(path)
    assert tuple(header) == CSV_HEADER
    assert [int(c[0]) for c in cards] == list(range(100000000001, 100000000013))
    for serial, pin, grouped, offer, face, currency, days, expires_on, batch_id in cards:
        assert pins.normalize(pin) == pin and KEYS.hash(pin) == hashes[int(serial)]
        assert grouped == pins.grouped(pin) and grouped.replace(" ", "") == pin
        assert (offer, face, currency, days, expires_on, batch_id) == (
            "fr-orange-mobicarte-10", "10.00", "EUR", "14", "2027-12-31", str(batch.id))
    assert len({c[1] for c in cards}) == 12
    # Valid through 31 December in Paris: it expires at the midnight that ends it, 23:00 UTC in winter.
    assert batch.expires_at == datetime(2027, 12, 31, 23, 0, tzinfo=UTC)
    assert (batch.created_by, batch.exported_by, batch.export_sealed) == ("staff:alice", "staff:alice", None)
    assert set(states(db).values()) == {"generated"}
    assert audit(db, "voucher.batch.create") == [("staff:alice", "print run 1")]


def test_batch_create_never_overwrites_a_file_and_then_makes_nothing(cli, db, staff, tmp_path):
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "batch-100000000001-100000000003.csv").write_text("the earlier file\n")
    before = snapshot(db)
    out = cli("voucher", "batch", "create", "--offer", "fr-orange-mobicarte-10", "--quantity", "3",
              "--expires", "2027-12-31", "--reason", "print run", "--out", str(folder), "--as", "alice", code=1)
    assert "voucher_file_exists" in out and "Nothing was made." in out
    assert snapshot(db) == before
    assert [p.name for p in folder.iterdir()] == ["batch-100000000001-100000000003.csv"]
    assert (folder / "batch-100000000001-100000000003.csv").read_text() == "the earlier file\n"


def test_a_failure_while_the_file_is_written_leaves_no_batch_and_no_file(cli, db, staff, tmp_path, monkeypatch):
    monkeypatch.setattr("simkeep.voucher.service.CHUNK", 5)
    written = []

    def disk_full(self, batch, cards, *, timezone):
        written.append(len(cards))
        if len(written) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("simkeep.voucher.cardfile.CardFile.write", disk_full)
    before = snapshot(db)
    out = cli("voucher", "batch", "create", "--offer", "fr-orange-mobicarte-10", "--quantity", "12",
              "--expires", "2027-12-31", "--reason", "print run", "--out", str(tmp_path / "cards"), "--as", "alice",
              code=1)
    assert "No space left on device" in out and "nothing was made" in out
    assert written == [5, 5]
    assert snapshot(db) == before
    assert list((tmp_path / "cards").iterdir()) == []


@pytest.mark.parametrize(("args", "expected"), [
    (["--as", "sam"], "staff_not_permitted: sam is support: that role may not do this (vouchers.manage)."),
    (["--as", "nobody"], "staff_not_found"),
    (["--as", "alice", "--offer", "no-such-offer"], "invalid_input: unknown offer 'no-such-offer'"),
    (["--as", "alice", "--expires", "31/12/2027"], "--expires '31/12/2027': write the last valid day as YYYY-MM-DD"),
    (["--as", "alice", "--expires", "2027-02-28"], "the batch's expiry date must be in the future"),
    (["--as", "alice", "--quantity", "0"], "quantity must be between 1 and 10,000,000"),
])
def test_batch_create_refusals_make_nothing(cli, db, staff, tmp_path, args, expected):
    base = {"--offer": "fr-orange-mobicarte-10", "--quantity": "3", "--expires": "2027-12-31"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    before = snapshot(db)
    out = cli("voucher", "batch", "create", *[x for pair in base.items() for x in pair], "--reason", "r",
              "--out", str(tmp_path / "cards"), code=1)
    assert expected in " ".join(out.split())
    assert snapshot(db) == before
    assert not (tmp_path / "cards").exists() or list((tmp_path / "cards").iterdir()) == []


def test_batch_list_and_report(cli, db, staff):
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    batch, cards = make_batch(db, quantity=10, now=T0)
    sell(db, serial_from=batch.serial_from, serial_to=batch.serial_from + 5, now=T0)
    redeem(db, pin=cards[0][1], now=T0)
    cli("voucher", "block", f"{batch.serial_from + 5}-{batch.serial_from + 6}", "--reason", "stolen", "--as", "alice")
    assert rows(cli("voucher", "batch", "list")) == [
        [str(batch.id), "fr-orange-mobicarte-10", "10 × €10.00", "100000000001-100000000010", "2028-02-29", "live"]]
    out = cli("voucher", "batch", "report", str(batch.id))
    assert out.splitlines()[0] == (f"batch {batch.id}: fr-orange-mobicarte-10, €10.00 each, serials "
                                   "100000000001-100000000010, expires 2028-02-29 09:00 UTC; made 2027-03-01 09:00 UTC "
                                   "by staff:alice: print run")
    assert rows(out) == [
        ["made", "10", "€100.00"], ["sold", "6", "€60.00"], ["generated", "3", "€30.00"], ["active", "4", "€40.00"],
        ["redeemed", "1", "€10.00"], ["blocked", "2", "€20.00"], ["expired", "0", "€0.00"],
        ["sold to resellers", "€60.00"], ["redeemed (credited to lines)", "€10.00"],
        ["outstanding (voucher liability)", "€50.00"], ["breakage (sold, expired)", "€0.00"],
        ["commission (resellers' discount)", "€3.00"]]
    assert out.splitlines()[-1] == "balances: yes (sold = redeemed + outstanding + breakage)"
    assert "voucher_batch_not_found" in cli("voucher", "batch", "report", "not-a-uuid", code=1)


# -- selling, blocking, the second approver ------------------------------------------------------------------------

def test_small_ranges_are_sold_blocked_and_unblocked_at_once(cli, db, staff):
    make_reseller(db, now=T0)  # 1,000.00 EUR float, 5 % discount
    batch, _cards = make_batch(db, quantity=10, now=T0)
    first = batch.serial_from
    out = cli("voucher", "sell", f"{first}-{first + 4}", "--reseller", "tabac-rivoli", "--reason", "box 1",
              "--as", "alice")
    lines = out.splitlines()
    assert re.fullmatch(r"done: sell 5 cards 100000000001-100000000005 to TABAC-RIVOLI: 5 changed \(action \S+, by "
                        r"staff:alice\)", lines[0]), out
    assert lines[1] == ("TABAC-RIVOLI paid €47.50 from its float for €50.00 of cards (commission €2.50); "
                        "float now €952.50")
    out = cli("voucher", "block", f"{first + 3} - {first + 5}", "--reason", "stolen from the van", "--as", "bob")
    assert re.fullmatch(r"done: block 3 cards 100000000004-100000000006: 3 changed \(action \S+, by staff:bob\)\n",
                        out), out
    assert cli("voucher", "show", str(first + 3)).splitlines()[1] == "status    blocked"
    cli("voucher", "unblock", f"{first + 3}-{first + 9}", "--reason", "found again", "--as", "alice")
    assert states(db) == {**dict.fromkeys(range(first, first + 5), "active"),
                          **dict.fromkeys(range(first + 5, first + 10), "generated")}
    assert audit(db, "voucher.block") == [("staff:bob", "stolen from the van")]
    assert audit(db, "voucher.unblock") == [("staff:alice", "found again")]
    # Selling what is sold already moves nothing.
    before = snapshot(db)
    out = cli("voucher", "sell", f"{first + 4}-{first + 5}", "--reseller", "TABAC-RIVOLI", "--reason", "again",
              "--as", "alice", code=1)
    assert "1 of these 2 cards are not unsold stock" in " ".join(out.split())
    assert snapshot(db) == before
    assert "is not a serial range" in cli("voucher", "block", "abc-def", "--reason", "r", "--as", "bob", code=1)
    assert "staff_not_permitted" in cli("voucher", "block", f"{first}", "--reason", "r", "--as", "sam", code=1)
    assert snapshot(db) == before


def test_a_bulk_sale_waits_for_a_second_person(cli, db, staff):
    make_reseller(db, deposit_minor=1_000_000, now=T0)  # 10,000.00 EUR
    batch, _cards = make_batch(db, quantity=1001, now=T0)
    span = f"{batch.serial_from}-{batch.serial_to}"
    out = cli("voucher", "sell", span, "--reseller", "TABAC-RIVOLI", "--reason", "pallet 7", "--as", "alice")
    action_id = re.search(r"action (\S+) waits for a second person", out).group(1)
    assert " ".join(out.split()) == (
        f"action {action_id} waits for a second person: sell 1,001 cards {span} to TABAC-RIVOLI (more than 1,000 "
        f"cards). Another staff member approves it with `simkeep voucher approve {action_id} --as THEM` (or rejects "
        f"it with `simkeep voucher reject {action_id} --reason R --as THEM`).")
    assert rows(cli("voucher", "pending")) == [
        [action_id, f"sell 1,001 cards {span} to TABAC-RIVOLI", "staff:alice", "2027-03-01 09:00 UTC", "pallet 7"]]
    assert set(states(db).values()) == {"generated"}
    before = snapshot(db)
    assert "second_approver_required" in cli("voucher", "approve", action_id, "--as", "alice", code=1)
    assert "staff_not_permitted" in cli("voucher", "approve", action_id, "--as", "sam", code=1)
    assert snapshot(db) == before
    out = cli("voucher", "approve", action_id, "--as", "bob")
    assert out.splitlines() == [
        f"done: sell 1,001 cards {span} to TABAC-RIVOLI: 1,001 changed (action {action_id}, by staff:bob)",
        "TABAC-RIVOLI paid €9,509.50 from its float for €10,010.00 of cards (commission €500.50); float now €490.50"]
    assert set(states(db).values()) == {"active"}
    assert cli("voucher", "pending") == "no action waits for approval\n"
    assert audit(db, "voucher.sell.approve") == [("staff:bob", "approved: pallet 7")]
    assert "voucher_action_not_found" in cli("voucher", "approve", action_id, "--as", "bob", code=1)


def test_a_rejected_bulk_block_does_nothing(cli, db, staff):
    make_reseller(db, now=T0)
    batch, _cards = make_batch(db, quantity=1500, now=T0)
    out = cli("voucher", "block", f"{batch.serial_from}-{batch.serial_to}", "--reason", "box lost?", "--as", "bob")
    action_id = re.search(r"action (\S+) waits", out).group(1)
    out = cli("voucher", "reject", action_id, "--reason", "the box was found", "--as", "alice")
    assert out == (f"rejected: block 1,500 cards {batch.serial_from}-{batch.serial_to} (action {action_id}, by "
                   "staff:alice)\n")
    assert set(states(db).values()) == {"generated"}
    with db.transaction(write=False) as session:
        action = session.get(BulkAction, uuid.UUID(action_id))
    assert (action.state, action.decided_by) == ("rejected", "staff:alice")
    assert audit(db, "voucher.block.reject") == [("staff:alice", "the box was found")]
    assert "voucher_action_not_found" in cli("voucher", "approve", action_id, "--as", "alice", code=1)


# -- support -------------------------------------------------------------------------------------------------------

def test_show_answers_my_card_did_not_work(cli, db):
    make_line(db, now=T0)
    make_line(db, msisdn="+33698765432", operator_id="fr-orange-mobicarte", now=T0)
    make_reseller(db, now=T0)
    cards = sold_cards(db, quantity=3, now=T0)
    serial, pin = cards[0]
    redeem(db, pin=pin, via="portal", now=T0 + timedelta(hours=1))
    redeem(db, pin=pin, msisdn="+33698765432", via="api", now=T0 + timedelta(hours=2))  # used already
    out = cli("voucher", "show", str(serial))
    with db.transaction(write=False) as session:
        batch = session.scalars(select(VoucherBatch)).one()
    assert out.splitlines()[:9] == [
        "serial    100000000001",
        "status    redeemed",
        f"batch     {batch.id} (physical, serials 100000000001-100000000003)",
        "offer     fr-orange-mobicarte-10 (€10.00, 14 days)",
        "expires   2028-02-29 09:00 UTC",
        "reseller  TABAC-RIVOLI (TABAC-RIVOLI (test))",
        "sold      2027-03-01 09:00 UTC",
        "blocked   -",
        "redeemed  2027-03-01 10:00 UTC by +336******78 via portal"]
    assert rows(out) == [["2027-03-01 11:00 UTC", "+336******32", "used: already redeemed", "api", "127.0.0.1"]]
    assert "+33612345678" not in out and "+33698765432" not in out and pin not in out
    out = cli("voucher", "show", str(cards[1][0]))
    assert "status    active" in out and "redeemed  -" in out and out.endswith("no failed tries matched this card\n")
    assert "voucher_not_found" in cli("voucher", "show", "42", code=1)


def test_failures_lists_a_numbers_tries_and_until_when_it_is_locked(cli, db):
    make_line(db, now=T0)
    body = "12345678901234"
    typo = body + str((int(pins.check_digit(body)) + 1) % 10)  # a wrong check digit: caught, not counted
    redeem(db, pin=typo, now=T0 - timedelta(minutes=1))
    for minutes in range(5):
        redeem(db, pin=pins.new_pin(), via="sms", now=T0 + timedelta(minutes=minutes))
    out = cli("voucher", "failures", "06 12 34 56 78")
    assert out.splitlines()[0] == ("+33612345678: locked until 2027-03-02 09:00 UTC (5 counted failures in 24 h, "
                                   "5 allowed)")
    assert rows(out) == [
        *[[f"2027-03-01 09:0{m} UTC", "unknown: no card has this PIN", "yes", "-", "sms", "127.0.0.1"]
          for m in range(4, -1, -1)],
        ["2027-03-01 08:59 UTC", "check_digit: wrong check digit: a typo, caught before any lookup (not counted)",
         "no", "-", "api", "127.0.0.1"]]
    assert cli("voucher", "failures", "+33698765432") == "+33698765432: not locked (0 of 5 counted failures in the " \
                                                         "last 24 h)\n"
    assert "invalid_msisdn" in cli("voucher", "failures", "12", code=1)


# -- expiry and the ledger -----------------------------------------------------------------------------------------

def test_expire_moves_what_is_left_to_breakage_and_the_ledger_still_verifies(cli, db, staff):
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    batch, cards = make_batch(db, quantity=4, now=T0, expires_in=timedelta(days=30))
    sell(db, serial_from=batch.serial_from, serial_to=batch.serial_from + 2, now=T0)
    redeem(db, pin=cards[0][1], now=T0)
    assert cli("voucher", "expire", "--now", "2027-03-30T09:00:00Z") == "0 batches expired as of 2027-03-30 09:00 UTC\n"
    assert cli("voucher", "expire", "--now", "2027-03-31T09:00:00Z") == "1 batches expired as of 2027-03-31 09:00 UTC\n"
    assert cli("voucher", "expire", "--now", "2027-04-01T09:00:00Z") == "0 batches expired as of 2027-04-01 09:00 UTC\n"
    assert list(states(db).values()) == ["redeemed", "expired", "expired", "expired"]
    out = cli("voucher", "batch", "report", str(batch.id))
    assert rows(out) == [
        ["made", "4", "€40.00"], ["sold", "3", "€30.00"], ["generated", "0", "€0.00"], ["active", "0", "€0.00"],
        ["redeemed", "1", "€10.00"], ["blocked", "0", "€0.00"], ["expired", "3", "€30.00"],
        ["sold to resellers", "€30.00"], ["redeemed (credited to lines)", "€10.00"],
        ["outstanding (voucher liability)", "€0.00"], ["breakage (sold, expired)", "€20.00"],
        ["commission (resellers' discount)", "€1.50"]]
    assert out.splitlines()[-1] == "balances: yes (sold = redeemed + outstanding + breakage)"
    assert cli("ledger", "verify").endswith("vouchers reconciled: balanced\n")
    assert "no UTC offset" in cli("voucher", "expire", "--now", "2027-04-01", code=2)


def test_ledger_verify_catches_a_liability_that_does_not_match_the_cards(cli, db):
    make_reseller(db, now=T0)
    cards = sold_cards(db, quantity=3, now=T0)
    out = cli("ledger", "verify")
    assert out.endswith("accounts, vouchers reconciled: balanced\n")
    with db.transaction() as session:  # a card marked redeemed behind the ledger's back: no credit, no posting
        session.execute(update(Voucher).where(Voucher.serial == cards[0][0]).values(state="redeemed"))
    out = cli("ledger", "verify", code=1)
    assert ("vouchers voucher liability in EUR is 3000 but the cards sold and not yet redeemed or expired are worth "
            "2000") in " ".join(out.split())
    assert out.endswith("accounts, vouchers not reconciled: 1 problems\n")


# -- resellers -----------------------------------------------------------------------------------------------------

def test_reseller_create_deposit_list_show(cli, db, staff):
    out = cli("reseller", "create", "tabac-nord", "--name", "Tabac du Nord", "--discount-bp", "500",
              "--reason", "signed the contract", "--as", "alice")
    assert out == "reseller TABAC-NORD (Tabac du Nord): float in EUR, discount 5 %\n"
    assert "reseller_exists" in cli("reseller", "create", "TABAC-NORD", "--name", "x", "--reason", "r",
                                    "--as", "alice", code=1)
    before = snapshot(db)
    assert "staff_not_permitted" in cli("reseller", "deposit", "TABAC-NORD", "250.00", "--reference", "VIR-1",
                                        "--reason", "r", "--as", "sam", code=1)
    assert "not an amount" in cli("reseller", "deposit", "TABAC-NORD", "abc", "--reference", "VIR-1",
                                  "--reason", "r", "--as", "bob", code=1)
    assert "invalid_amount" in cli("reseller", "deposit", "TABAC-NORD", "2.505", "--reference", "VIR-1",
                                   "--reason", "r", "--as", "bob", code=1)
    assert "invalid_amount" in cli("reseller", "deposit", "TABAC-NORD", "0", "--reference", "VIR-1",
                                   "--reason", "r", "--as", "bob", code=1)
    assert "reseller_not_found" in cli("reseller", "deposit", "NOPE", "5", "--reference", "VIR-1",
                                       "--reason", "r", "--as", "bob", code=1)
    assert snapshot(db) == before
    out = cli("reseller", "deposit", "TABAC-NORD", "250.00", "--reference", "VIR-1", "--reason", "bank transfer",
              "--as", "bob")
    assert out == "€250.00 deposited to TABAC-NORD's float (reference VIR-1); float now €250.00\n"
    out = cli("reseller", "deposit", "TABAC-NORD", "250.00", "--reference", "VIR-1", "--reason", "read twice",
              "--as", "bob")
    assert out == "reference VIR-1 was recorded before: nothing moved; float €250.00\n"
    assert audit(db, "reseller.deposit") == [("staff:bob", "bank transfer")]
    assert audit(db, "reseller.create") == [("staff:alice", "signed the contract")]
    assert rows(cli("reseller", "list")) == [
        ["TABAC-NORD", "Tabac du Nord", "5 %", "€250.00", "2027-03-01 09:00 UTC", "active"]]
    batch, _cards = make_batch(db, quantity=4, now=T0)
    cli("voucher", "sell", f"{batch.serial_from}-{batch.serial_to}", "--reseller", "TABAC-NORD", "--reason", "r",
        "--as", "alice")
    out = cli("reseller", "show", "TABAC-NORD")
    assert out.splitlines()[:6] == ["code      TABAC-NORD", "name      Tabac du Nord", "discount  5 %",
                                    "float     €212.00", "e-mail    -", "since     2027-03-01 09:00 UTC"]
    [[purchase_id, *purchase]] = rows(out)
    with db.transaction(write=False) as session:
        assert purchase_id == str(session.scalars(select(Voucher.purchase_id).distinct()).one())
    assert purchase == ["2027-03-01 09:00 UTC", "4 cards of fr-orange-mobicarte-10", "100000000001-100000000004",
                        "€40.00", "€38.00", "€2.00"]


def test_reseller_statement_on_screen_and_as_csv(cli, db, staff, tmp_path, monkeypatch):
    make_reseller(db, code="TABAC-SUD", deposit_minor=0, now=T0)
    cli("reseller", "deposit", "TABAC-SUD", "100", "--reference", "VIR-7", "--reason", "r", "--as", "bob")
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0 + timedelta(days=2))
    batch, _cards = make_batch(db, quantity=2, now=T0 + timedelta(days=2))
    cli("voucher", "sell", f"{batch.serial_from}-{batch.serial_to}", "--reseller", "TABAC-SUD", "--reason", "r",
        "--as", "alice")
    with db.transaction(write=False) as session:
        [purchase_id] = session.scalars(select(Voucher.purchase_id).distinct()).all()
    statement = tmp_path / "statement.csv"
    out = cli("reseller", "statement", "TABAC-SUD", "--csv", str(statement))
    assert out.splitlines()[0] == "statement of TABAC-SUD (TABAC-SUD (test)), EUR"
    assert rows(out) == [
        ["2027-03-01 09:00 UTC", "deposit", "VIR-7", "€100.00", "€0.00", "€100.00"],
        ["2027-03-03 09:00 UTC", "vouchers bought", f"purchase {purchase_id}", "-€19.00", "€1.00", "€81.00"]]
    assert out.splitlines()[-1] == f"2 lines written to {statement}"
    assert read_csv(statement) == [
        ["at", "kind", "reference", "amount", "commission", "balance", "currency"],
        ["2027-03-01T09:00:00+00:00", "reseller_deposit", "VIR-7", "100.00", "0.00", "100.00", "EUR"],
        ["2027-03-03T09:00:00+00:00", "voucher_sale", f"purchase {purchase_id}", "-19.00", "1.00", "81.00", "EUR"]]
    assert stat.S_IMODE(statement.stat().st_mode) == 0o600
    assert "never overwritten" in cli("reseller", "statement", "TABAC-SUD", "--csv", str(statement), code=1)
    assert rows(cli("reseller", "statement", "TABAC-SUD", "--since", "2027-03-02")) == [
        ["2027-03-03 09:00 UTC", "vouchers bought", f"purchase {purchase_id}", "-€19.00", "€1.00", "€81.00"]]
    assert rows(cli("reseller", "statement", "TABAC-SUD", "--until", "2027-03-03T09:00:00Z")) == [
        ["2027-03-01 09:00 UTC", "deposit", "VIR-7", "€100.00", "€0.00", "€100.00"]]
    assert "write YYYY-MM-DD" in cli("reseller", "statement", "TABAC-SUD", "--since", "yesterday", code=1)


def test_without_voucher_keys_batch_create_says_how_to_use_the_demos(cli, db, staff, tmp_path, monkeypatch):
    monkeypatch.delenv("SIMKEEP_VOUCHER_PEPPER")
    monkeypatch.delenv("SIMKEEP_ENV", raising=False)  # production: nothing generated
    (tmp_path / "secrets.json").write_text("{}")  # a `make run` demo lives in this data directory
    before = snapshot(db)
    out = cli("voucher", "batch", "create", "--offer", "fr-orange-mobicarte-10", "--quantity", "3", "--expires",
              "2027-12-31", "--reason", "r", "--out", str(tmp_path / "cards"), "--as", "alice", code=1)
    assert f"the demo of `make run` keeps its voucher keys in {tmp_path / 'secrets.json'}: to use them, run " \
           "`export SIMKEEP_ENV=demo` first" in out
    assert "vouchers_not_configured" in out
    assert snapshot(db) == before and not (tmp_path / "cards").exists()


def test_a_disabled_account_acts_no_more(cli, db, staff):
    make_reseller(db, now=T0)
    batch, _cards = make_batch(db, quantity=2, now=T0)
    cli("staff", "disable", "alice")
    before = snapshot(db)
    out = cli("voucher", "sell", f"{batch.serial_from}-{batch.serial_to}", "--reseller", "TABAC-RIVOLI",
              "--reason", "r", "--as", "alice", code=1)
    assert "staff_not_permitted: alice's account is disabled." in out
    assert snapshot(db) == before
