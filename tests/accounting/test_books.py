"""The books of a mixed day (tests.factories.books): the FEC's columns, balance, numbering and amounts, the journal's
CSV and XLSX, and balances that match the ledger."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from simkeep.accounting import chart, exports, fec
from simkeep.accounting import service as books_service
from simkeep.ledger import service as ledger
from simkeep.ledger.models import Account, JournalEntry, Posting
from simkeep.receipt.models import Receipt
from tests.conftest import T0
from tests.factories.books import CARD_LINE, mixed_day
from tests.web import freeze_clock

DAY = date(2027, 3, 1)
OPERATOR = "fr-orange-mobicarte"


@pytest.fixture
def day(db, settings, monkeypatch):
    return mixed_day(db, settings, freeze_clock(monkeypatch), monkeypatch)


def fec_of(db, first: date, last: date) -> list[list[str]]:
    with db.transaction(write=False) as session:
        books = books_service.books(session, first=first, last=last, operator_id=OPERATOR)
        data = b"".join(fec.encoded(books_service.journal(session, books), books))
    text = data.decode("iso-8859-15")
    assert text.endswith("\r\n")
    return [line.split("\t") for line in text.removesuffix("\r\n").split("\r\n")]


def ledger_totals(db, first: date, last: date) -> tuple[int, int, dict[str, int]]:
    """(debits, credits, entries per kind) in EUR straight from the ledger's tables."""
    with db.transaction(write=False) as session:
        books = books_service.books(session, first=first, last=last, operator_id=OPERATOR)
        in_period = (Posting.currency == "EUR", JournalEntry.created_at >= books.since,
                     JournalEntry.created_at < books.until)
        debits, credits = session.execute(
            select(func.sum(func.abs(Posting.amount_minor)).filter(Posting.amount_minor < 0),
                   func.sum(Posting.amount_minor).filter(Posting.amount_minor > 0))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id).where(*in_period)).one()
        kinds = dict(session.execute(select(JournalEntry.kind, func.count(func.distinct(JournalEntry.id)))
                                     .join(Posting, Posting.entry_id == JournalEntry.id).where(*in_period)
                                     .group_by(JournalEntry.kind)).all())
    return int(debits), int(credits), kinds


def cents(text: str) -> int:
    assert re.fullmatch(r"\d+,\d{2}", text), text
    return int(text.replace(",", ""))


def test_the_fec_of_a_mixed_day_has_the_18_columns_balances_and_matches_the_ledger(db, day):
    header, *rows = fec_of(db, DAY, DAY)
    assert header == ["JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
                      "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
                      "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise"]
    assert {len(row) for row in rows} == {18}
    assert {row[3] for row in rows} == {row[15] for row in rows} == {"20270301"}
    per_entry: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        debit, credit = cents(row[11]), cents(row[12])
        assert (debit == 0) != (credit == 0), row  # one side per line
        per_entry[row[2]][0] += debit
        per_entry[row[2]][1] += credit
    assert all(debit == credit for debit, credit in per_entry.values()), per_entry
    debits, credits, kinds = ledger_totals(db, DAY, DAY)
    assert sum(d for d, _ in per_entry.values()) == sum(c for _, c in per_entry.values()) == debits == credits
    assert set(kinds) >= {"topup", "voucher_sale", "void", "refund", "forfeit"}
    assert len(per_entry) == sum(kinds.values())
    journals = {row[0]: row[1] for row in rows}
    assert journals == {"VE": "Ventes", "BQ": "Banque et encaissements", "OD": "Opérations diverses"}
    assert all(row[2].startswith(row[0]) for row in rows)


def test_amounts_are_written_with_a_decimal_comma_and_no_thousands_separator(db, day):
    _, *rows = fec_of(db, DAY, DAY)
    refund = [row for row in rows if row[10] == "Remboursement"]
    assert sorted((row[4], row[11], row[12]) for row in refund) == [
        ("41911000", "10,00", "0,00"), ("51120001", "0,00", "10,00")]
    deposit_year = fec_of(db, date(2027, 1, 1), DAY)
    assert ["1000,00", "0,00"] in [row[11:13] for row in deposit_year]  # the reseller's 1 000.00 deposit
    assert fec.amount(123456789, 2) == "1234567,89" and fec.amount(5, 2) == "0,05" and fec.amount(0, 0) == "0"


def test_entry_numbers_run_from_1_without_gaps_per_journal_and_stay_the_same_in_a_shorter_period(db, day):
    _, *year = fec_of(db, date(2027, 1, 1), DAY)
    numbers: dict[str, list[int]] = defaultdict(list)
    for row in year:
        number = int(row[2].removeprefix(row[0]))
        if not numbers[row[0]] or numbers[row[0]][-1] != number:
            numbers[row[0]].append(number)
    assert {code: n == list(range(1, len(n) + 1)) for code, n in numbers.items()} == {
        "VE": True, "BQ": True, "OD": True}
    _, *just_the_day = fec_of(db, DAY, DAY)
    assert just_the_day == [row for row in year if row[3] == "20270301"]  # the day before keeps its numbers
    assert fec_of(db, date(2027, 1, 1), DAY)[1:] == year  # two exports of the same data: the same file


def test_a_top_up_with_a_receipt_is_filed_under_its_receipt_number_and_no_personal_data_leaves(db, day):
    _, *rows = fec_of(db, DAY, DAY)
    with db.transaction(write=False) as session:
        numbers = set(session.scalars(select(Receipt.number)).all())
    assert numbers and numbers <= {row[8] for row in rows}
    topups = [row for row in rows if row[10] == "Recharge"]
    assert {row[8] for row in topups} == numbers | {row[8] for row in topups if row[8].startswith("topup:")}
    text = "\n".join("\t".join(row) for row in rows)
    assert CARD_LINE not in text and "612345" not in text
    subscriber = [row for row in rows if row[4] == "41911000"]
    assert subscriber and all(re.fullmatch(r"[0-9a-f-]{36}", row[6]) for row in subscriber)
    assert all(row[7].startswith("Abonné ") for row in subscriber)
    assert "47100000" not in {row[4] for row in rows}  # every account is mapped


def test_the_journal_xlsx_reads_back_as_the_csv_and_its_totals_balance(db, day):
    with db.transaction(write=False) as session:
        books = books_service.books(session, first=DAY, last=DAY, operator_id=OPERATOR)
        text = "".join(exports.journal_csv(books_service.journal(session, books), books))
        out = io.BytesIO()
        exports.xlsx(books_service.journal(session, books), books_service.balances(session, books), out)
    csv_rows = list(csv.reader(io.StringIO(text)))
    workbook = load_workbook(io.BytesIO(out.getvalue()))
    assert workbook.sheetnames == ["Journal", "Balances"]
    sheet = workbook["Journal"]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["G"].width == 48
    *xlsx_rows, total = list(sheet.iter_rows(values_only=True))
    assert len(xlsx_rows) == len(csv_rows) > 10
    assert [str(v) for v in xlsx_rows[0]] == csv_rows[0]
    for read, written in zip(xlsx_rows[1:], csv_rows[1:], strict=True):
        assert read[0].date().isoformat() == written[0]  # a date cell
        assert read[3].isoformat() + "Z" == written[3]
        assert [Decimal(str(read[11])), Decimal(str(read[12]))] == [Decimal(written[11]), Decimal(written[12])]
        assert [str(v) for v in read[1:3] + read[4:11] + read[13:]] == written[1:3] + written[4:11] + written[13:]
    debits = sum(Decimal(row[11]) for row in csv_rows[1:])
    assert total[0] == "Total" and Decimal(str(total[11])) == Decimal(str(total[12])) == debits
    assert sheet.cell(2, 12).number_format == "#,##0.00"


def test_balances_come_from_postings_match_the_ledger_and_balance(db, day):
    with db.transaction(write=False) as session:
        books = books_service.books(session, first=DAY, last=DAY, operator_id=OPERATOR)
        found = books_service.balances(session, books)
        assert ledger.verify(session).ok
        by_group = {row.group: row for row in found.rows}
        for code, account_id in session.execute(select(Account.code, Account.id)
                                                .where(Account.balance_minor.is_(None), Account.currency == "EUR")):
            if code in by_group:
                # the ledger's sign is credit positive; the books' balance is debit minus credit
                assert by_group[code].closing_minor == -ledger.account_balance(session, account_id), code
        cached = session.scalar(select(func.sum(Account.balance_minor))
                                .where(Account.kind == ledger.SUBSCRIBER_CREDIT, Account.currency == "EUR"))
    total = found.total
    assert (total.opening_minor, total.closing_minor) == (0, 0) and total.debits_minor == total.credits_minor > 0
    credit = by_group[ledger.SUBSCRIBER_CREDIT]
    assert credit.closing_minor == -int(cached) and credit.accounts == 4 and credit.pcg.number == "41911000"
    breakage = by_group[f"{ledger.BREAKAGE}:EUR"]  # the Syma line's forfeited 5.00
    assert (breakage.pcg, breakage.opening_minor, breakage.debits_minor, breakage.credits_minor) == (
        chart.ACCOUNTS[ledger.BREAKAGE], 0, 0, 500)
    assert found.rows == sorted(found.rows, key=lambda r: (r.pcg.number, r.group))


def test_pages_of_two_entries_give_the_same_file_as_one_page(db, day, monkeypatch):
    whole = fec_of(db, date(2027, 1, 1), DAY)
    monkeypatch.setattr(books_service, "PAGE", 2)  # keyset paging over (created_at, id), ties at one instant included
    assert fec_of(db, date(2027, 1, 1), DAY) == whole


def test_every_account_the_ledger_opens_maps_to_the_chart(db):
    with db.transaction() as session:
        ledger.ensure_system_accounts(session, currencies={"EUR"}, now=T0)
        accounts = session.execute(select(Account.kind, Account.code).where(Account.currency == "EUR")).all()
    owner_kinds = {ledger.SUBSCRIBER_CREDIT, ledger.SUBSCRIBER_BONUS, ledger.RESELLER_FLOAT, ledger.STORE_ACCOUNT}
    assert set(chart.OWNER_KINDS) == owner_kinds
    unmapped = [code for kind, code in accounts if chart.pcg_account(kind, code) == chart.SUSPENSE]
    assert unmapped == [] and len(accounts) > 20
    numbers = [account.number for account in [*chart.ACCOUNTS.values(), *chart.CLEARINGS.values()]]
    assert len(numbers) == len(set(numbers)) and all(re.fullmatch(r"[1-7]\d{7}", n) for n in numbers)
