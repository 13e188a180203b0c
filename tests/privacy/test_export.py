"""An access request's archive: exactly these files, these sections, the subscriber's rows, the receipts as PDFs
that parse, README.txt in the subscriber's language; one audit row per line; the CLI writes the same archive."""

from __future__ import annotations

import io
import json
import zipfile

from pypdf import PdfReader
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.privacy import service as privacy
from simkeep.receipt.models import Receipt
from tests.privacy.subscriber import EMAIL, MSISDN, make_subscriber, now

FILES = ["README.txt", "calls_and_ussd.json", "id_checks.json", "line.json", "messages.json", "payments.json",
         "plans.json", "promotions.json", "receipts.json", "sign_in.json", "topups.json"]
SECTIONS = {
    "calls_and_ussd.json": ["calls", "call_steps", "ussd_sessions"],
    "id_checks.json": ["id_checks"],
    "line.json": ["lines", "state_changes", "staff_notes", "network", "sim_cards"],
    "messages.json": ["sent", "delivery_attempts", "received"],
    "payments.json": ["payment_attempts", "refunds", "bank_transfers", "charges"],
    "plans.json": ["keep_plans", "auto_renew", "auto_renew_charges", "saved_payment_methods"],
    "promotions.json": ["quotes", "promotions_used", "cashback"],
    "receipts.json": ["receipts"],
    "sign_in.json": ["sign_in_codes", "wrong_codes", "web_sessions"],
    "topups.json": ["topups", "vouchers_redeemed", "voucher_failures", "counter_sales"],
}


def export(db, settings, **subject):
    with db.transaction() as session:
        return privacy.export(session, subject=privacy.Subject.parse(msisdn=subject.get("msisdn"),
                                                                     email=subject.get("email")),
                              reason="access request #7", actor="staff:dpo", receipt_key=settings.key("receipt"),
                              base_url="http://test", now=now())


def test_the_archive_holds_every_domain_the_receipts_and_a_readme_in_the_subscribers_language(db, settings):
    subscriber = make_subscriber(db, settings)
    archive = export(db, settings, email=EMAIL.upper())  # the e-mail in another case finds the same line
    assert archive.lines == 1
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        with db.transaction(write=False) as session:
            numbers = sorted(session.scalars(select(Receipt.number)))
        assert sorted(zipped.namelist()) == sorted([*FILES[:8], *(f"receipts/{n}.pdf" for n in numbers), *FILES[8:]])
        documents = {name: json.loads(zipped.read(name)) for name in FILES if name.endswith(".json")}
        readme = zipped.read("README.txt").decode()
        pdfs = {n: PdfReader(io.BytesIO(zipped.read(f"receipts/{n}.pdf"))) for n in numbers}
    assert {name: list(document) for name, document in documents.items()} == SECTIONS
    [line] = documents["line.json"]["lines"]
    assert (line["id"], line["msisdn"], line["email"], line["language"]) == (
        str(subscriber.line_id), MSISDN, EMAIL, "fr")
    assert {len(rows) for rows in (documents["topups.json"]["topups"], documents["receipts.json"]["receipts"])} == {
        3, 2} and len(documents["receipts.json"]["receipts"]) == len(numbers) == 2
    assert [t["channel"] for t in documents["topups.json"]["topups"]] == ["portal", "agent", "voucher"]
    assert [c["document_type"] for c in documents["id_checks.json"]["id_checks"]] == ["passport"]
    assert [r["sender"] for r in documents["messages.json"]["received"]] == [MSISDN]
    assert [c["caller"] for c in documents["calls_and_ussd.json"]["calls"]] == [MSISDN]
    assert [s["data"]["email"] for s in documents["sign_in.json"]["web_sessions"]] == [EMAIL]
    assert "code_hash" not in documents["sign_in.json"]["sign_in_codes"][0]  # secrets stay out
    assert "token_hash" not in documents["sign_in.json"]["web_sessions"][0]
    for number, reader in pdfs.items():
        assert number in reader.pages[0].extract_text()
    assert readme.splitlines()[0].startswith("Cette archive contient")
    assert "- receipts.json: " in readme
    with db.transaction(write=False) as session:
        rows = session.execute(select(AuditEntry.action, AuditEntry.subject_id, AuditEntry.reason)
                               .where(AuditEntry.action == "privacy.export")).all()
    assert rows == [("privacy.export", str(subscriber.line_id), "access request #7")]


def test_a_number_never_held_gets_the_same_files_empty(db, settings):
    archive = export(db, settings, msisdn="06 99 99 99 99")
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert sorted(zipped.namelist()) == FILES
        assert all(rows == [] for name in FILES[1:] for rows in json.loads(zipped.read(name)).values())
        assert zipped.read("README.txt").decode().startswith("This archive holds")


def test_the_cli_writes_the_archive(cli, db, settings, tmp_path):
    make_subscriber(db, settings)
    out = tmp_path / "request.zip"
    assert "1 line(s); archive written to" in cli("privacy", "export", "--msisdn", "06 12 34 56 78", "--out", str(out))
    with zipfile.ZipFile(out) as zipped:
        assert json.loads(zipped.read("line.json"))["lines"][0]["msisdn"] == MSISDN
    assert "line_in_service" in cli("privacy", "erase", "--msisdn", MSISDN, "--reason", "request #8", code=1)
    assert "1 line(s) erased, 1 closed first, 0 erased before" in cli(
        "privacy", "erase", "--msisdn", MSISDN, "--reason", "request #8", "--close-line")
    assert "nothing to do" in cli("privacy", "erase", "--msisdn", MSISDN, "--reason", "request #8")
    assert "staff:" not in cli("privacy", "erasures") and "yes" in cli("privacy", "erasures")
