from datetime import date
from pathlib import Path

import pytest

from simkeep.payment.providers.sepa import camt
from simkeep.payment.providers.sepa.camt import CamtError, find_reference, rf_in_text
from tests.payment.sepa.statements import Credit, statement

DATA = Path(__file__).parent / "data"


def read(name: str) -> camt.Document:
    return camt.parse((DATA / name).read_bytes())


def test_a_version_02_statement_gives_its_booked_credits():
    doc = read("camt053_v02.xml")
    assert (doc.version, doc.message_id) == ("02", "CA-20270302-0001")
    [stmt] = doc.statements
    assert (stmt.statement_id, stmt.account_iban, stmt.ignored) == ("STMT-2027-03-01-0001", "FR7630006000011234567890189", 2)
    got = [(e.entry_ref, e.booked_on, e.amount_minor, e.currency, e.reference, e.reference_valid, e.debtor)
           for e in stmt.entries]
    assert got == [
        ("2027030100001234", date(2027, 3, 1), 1000, "EUR", "RF902E4NENOWZ3QMBIF5", True, "Jean Dupont"),
        ("2027030100001235", date(2027, 3, 1), 2550, "EUR", "RF652E4NENOWZ3QMBLKY", True, "Marie Curie-Sklodowska"),
        ("5", date(2027, 3, 1), 2000, "EUR", None, False, "Li Wei"),  # no AcctSvcrRef: the entry's NtryRef
        ("2027030100001239-1", date(2027, 3, 1), 1500, "EUR", "RF092E4NENOWZ3QMBOQR", True, "Paul Martin"),
        ("2027030100001239/2", date(2027, 3, 1), 1000, "EUR", "RF18539007547034", True, "Sophie Bernard"),
        ("2027030100001240", date(2027, 3, 1), 1000, "EUR", "RF00 1234 5678", False, "Hans Müller"),
    ]
    first = stmt.entries[0]
    assert first.details == {"debtor": "Jean Dupont", "debtor_iban": "FR1420041010050500013M02606",
                             "end_to_end_id": "E2E-DUPONT-0001", "remittance": "RF90 2E4N ENOW Z3QM BIF5"}
    assert not any(e.reversal or e.note for e in stmt.entries)


def test_a_version_08_statement_gives_its_booked_credits():
    doc = read("camt053_v08.xml")
    assert (doc.version, doc.message_id) == ("08", "BNP-053-20270303-000042")
    [stmt] = doc.statements
    assert (stmt.statement_id, stmt.account_iban, stmt.ignored) == ("20270302-FR76300060000112", "FR7630006000011234567890189", 1)
    first, hashed, reversal = stmt.entries
    assert (first.entry_ref, first.amount_minor, first.reference, first.debtor, first.details["end_to_end_id"]) == (
        "BNP2027030200000017", 1000, "RF902E4NENOWZ3QMBIF5", "Zhang Wei", "ORDER-7781")
    # no AcctSvcrRef and no NtryRef: a hash of what the entry says, the same in any later statement
    assert hashed.entry_ref.startswith("h-") and hashed.entry_ref.endswith("-1") and len(hashed.entry_ref) == 36
    assert (hashed.amount_minor, hashed.reference, hashed.debtor) == (2000, "RF652E4NENOWZ3QMBLKY", "Ahmed Benali")
    assert hashed.entry_ref == read("camt053_v08.xml").statements[0].entries[1].entry_ref
    assert (reversal.reversal, reversal.amount_minor, reversal.reference) == (True, 750, None)


def test_identical_unreferenced_entries_in_one_statement_stay_two_entries():
    twice = [Credit(None, "10.00", text="gift"), Credit(None, "10.00", text="gift")]
    data = statement("S1", twice, version="08").replace(b"<NtryRef>1</NtryRef>", b"").replace(b"<NtryRef>2</NtryRef>", b"")
    refs = [e.entry_ref for e in camt.parse(data).statements[0].entries]
    assert refs[0][:-2] == refs[1][:-2] and (refs[0][-2:], refs[1][-2:]) == ("-1", "-2")


def test_a_batch_without_amounts_per_transfer_is_kept_whole_for_a_person():
    data = (DATA / "camt053_v02.xml").read_bytes().replace(
        b'<AmtDtls><TxAmt><Amt Ccy="EUR">15.00</Amt></TxAmt></AmtDtls>', b"")
    entries = camt.parse(data).statements[0].entries
    batch = [e for e in entries if e.entry_ref == "2027030100001239"]
    assert [(b.amount_minor, b.reference, b.note) for b in batch] == [
        (2500, None, "batch of 2 transfers: split it by hand")]


@pytest.mark.parametrize(("amount", "currency", "minor"), [("10", "EUR", 1000), ("0.01", "EUR", 1), ("1234567.89", "EUR", 123456789),
                                                          ("25.5", "EUR", 2550), ("1000", "JPY", 1000)])
def test_amounts_become_exact_minor_units(amount, currency, minor):
    [entry] = camt.parse(statement("S", [Credit("B1", amount, currency=currency)])).statements[0].entries
    assert (entry.amount_minor, entry.currency) == (minor, currency)


@pytest.mark.parametrize(("amount", "currency", "message"), [
    ("10.001", "EUR", "more decimals than EUR allows"), ("1.5", "JPY", "more decimals than JPY allows"),
    ("-10.00", "EUR", "is not an amount"), ("0", "EUR", "not a positive amount"), ("0.00", "EUR", "not a positive amount"),
    ("1e3", "EUR", "is not an amount"), ("NaN", "EUR", "is not an amount"), ("ten", "EUR", "is not an amount"),
    ("10.00", "eur", "no valid currency")])
def test_a_bad_amount_refuses_the_whole_file(amount, currency, message):
    data = statement("S", [Credit("B1", amount, currency=currency)])
    with pytest.raises(CamtError, match=message):
        camt.parse(data)


def test_debits_and_pending_credits_are_ignored():
    doc = camt.parse(statement("S", [Credit("B1", "10.00", direction="DBIT"), Credit("B2", "10.00", status="PDNG"),
                                     Credit("B3", "10.00", status="INFO"), Credit("B4", "3.00")], version="08"))
    assert ([e.entry_ref for e in doc.statements[0].entries], doc.statements[0].ignored) == (["B4"], 3)


@pytest.mark.parametrize(("data", "message"), [
    (b"not xml", "not well-formed XML"),
    (b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"/>', r"not a camt\.053 bank statement \(camt\.054\.001\.08\)"),
    (b"<Document/>", "not a camt.053 bank statement"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.99"><BkToCstmrStmt/></Document>', "not a supported version"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>', "no statement"),
    (statement("S", []).replace(b"<IBAN>FR7630006000011234567890189</IBAN>", b"<IBAN>FR7630006000011234567890188</IBAN>"), "IBAN 'FR7630006000011234567890188' is not valid"),
    (statement("S", []).replace(b"<Id>S</Id>", b""), "no identification"),
    (statement("S", [Credit("B1", "1.00", booked="2027-02-30")]), "no valid booking date"),
])
def test_unreadable_files_are_refused_with_a_clear_message(data, message):
    with pytest.raises(CamtError, match=message):
        camt.parse(data)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr><MsgId>&c;</MsgId></GrpHdr></BkToCstmrStmt></Document>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>&x;</Id></Stmt></BkToCstmrStmt></Document>"""
DTD_ONLY = b"""<?xml version="1.0"?><!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>"""


@pytest.mark.parametrize("data", [BOMB, EXTERNAL, DTD_ONLY])
def test_document_types_and_entities_are_refused_before_anything_expands(data):
    with pytest.raises(CamtError, match="Document type declarations and entities are not allowed"):
        camt.parse(data)


def test_elements_of_other_namespaces_never_pass_for_camt_ones():
    data = statement("S", [Credit("B1", "10.00")]).replace(
        b"<Stmt>", b'<x:Stmt xmlns:x="urn:example:other"><x:Id>EVIL</x:Id></x:Stmt><Stmt>', 1)
    [stmt] = camt.parse(data).statements
    assert stmt.statement_id == "S"


def test_a_file_with_two_statements_and_a_statement_given_twice():
    from tests.payment.sepa.statements import document
    doc = camt.parse(document([("A", [Credit("B1", "1.00")]), ("B", [Credit("B2", "2.00")])]))
    assert [(s.statement_id, [e.entry_ref for e in s.entries]) for s in doc.statements] == [("A", ["B1"]), ("B", ["B2"])]
    with pytest.raises(CamtError, match="same statement twice"):
        camt.parse(document([("A", []), ("A", [])]))


@pytest.mark.parametrize(("text", "found"), [
    ("Recharge mobile RF65 2E4N ENOW Z3QM BLKY merci", "RF652E4NENOWZ3QMBLKY"),
    ("recharge RF652E4NENOWZ3QMBLKY", "RF652E4NENOWZ3QMBLKY"),
    ("rf18 5390 0754 7034.", "RF18539007547034"),
    ("REF:RF18539007547034/ORDER 12", "RF18539007547034"),
    ("RF18 5390 0754 7035", None),  # a typo: the check digits catch it
    ("XRF18539007547034", None),
    ("no reference at all", None),
])
def test_an_rf_reference_is_found_in_free_text(text, found):
    assert rf_in_text(text) == found


def test_structured_references_come_first_and_non_rf_ones_are_kept_but_not_valid():
    assert find_reference(["RF18 5390 0754 7034"], ["RF652E4NENOWZ3QMBLKY"]) == ("RF18539007547034", True)
    assert find_reference(["+++090/9337/55493+++"], ["RF652E4NENOWZ3QMBLKY"]) == ("RF652E4NENOWZ3QMBLKY", True)
    assert find_reference(["+++090/9337/55493+++"], ["thanks"]) == ("+++090/9337/55493+++", False)
    assert find_reference([], []) == (None, False)
