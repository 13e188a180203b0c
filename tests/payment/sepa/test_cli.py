

from simkeep.payment.providers.sepa import service
from simkeep.payment.providers.sepa.cli import PROGRESS_FROM
from tests.factories.snapshot import snapshot
from tests.payment.sepa.statements import Credit, statement


def test_import_prints_the_counts_and_a_second_import_changes_nothing(cli, db, tmp_path):
    path = tmp_path / "s1.xml"
    path.write_bytes(statement("S1", [Credit("B1", "10.00", text="cadeau"), Credit("B2", "5.00", direction="DBIT")]))
    out = cli("bank", "import", str(path))
    assert "statements S1 imported" in out
    assert "new 1  matched 0  review 1  duplicate 0  ignored 1" in out
    before = snapshot(db)
    assert "already imported, nothing changed (statements S1)" in cli("bank", "import", str(path))
    assert snapshot(db) == before
    listed = cli("bank", "entries", "--status", "review")
    assert "B1" in listed and "no payment reference" in listed and "1 entry" in listed
    assert "0 entries" in cli("bank", "entries", "--status", "matched")
    cli("bank", "entries", "--status", "nonsense", code=2)


def test_a_large_statement_imports_with_a_progress_bar(cli, tmp_path):
    path = tmp_path / "big.xml"
    path.write_bytes(statement("BIG", [Credit(f"B{n}", "1.00") for n in range(PROGRESS_FROM)]))
    out = cli("bank", "import", str(path))
    assert f"new {PROGRESS_FROM}  matched 0  review {PROGRESS_FROM}" in out


def test_a_broken_file_is_an_error_with_its_reason(cli, tmp_path):
    path = tmp_path / "bad.xml"
    path.write_bytes(b"<Document/>")
    assert "invalid_statement: This is not a camt.053 bank statement" in cli("bank", "import", str(path), code=1)


def test_settle_needs_a_reason_and_an_entry_in_review(cli, tmp_path, db):
    path = tmp_path / "s1.xml"
    path.write_bytes(statement("S1", [Credit("B1", "10.00")]))
    cli("bank", "import", str(path))
    with db.transaction(write=False) as session:
        [entry] = service.entries(session)
    assert "invalid_input" in cli("bank", "settle", str(entry.id), "--reason", " ", "--actor", "alice", code=1)
    assert f"entry {entry.id} settled" in cli("bank", "settle", str(entry.id), "--reason", "refunded", "--actor", "alice")
    assert "bank_entry_not_in_review" in cli("bank", "settle", str(entry.id), "--reason", "again", "--actor", "alice", code=1)
    assert "bank_entry_not_found" in cli("bank", "settle", "nope", "--reason", "x", "--actor", "alice", code=1)
