"""The books of a year on PostgreSQL: the FEC export (accounting.service.journal → accounting.fec, keyset pages of
2,000 entries, their postings and accounts, receipt numbers of the top-ups, the 18 columns encoded ISO 8859-15)
against a raw baseline in the same run over the same rows: one COPY of the same postings joined to their entries
and accounts, in the same order, to a file. Also the journal CSV of the year, the XLSX of one month (openpyxl
write-only) and the balances query of the year.

The ledger is built with SQL: a year (2027) of entries in EUR, four postings each (subscriber credit and bonus,
a channel's clearing, promotion expense) over 50,000 subscribers, kinds mixed as a year of renewals might be
(70 % top-ups, 10 % card sales, 10 % charges, 5 % forfeits, 5 % refunds). Full: 250,000 entries (1,000,000
postings); quick: 25,000 (100,000)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from bench.common import OUT, Sizes, drop_database, note, pg_dsn, pg_url, recreate_database, report
from simkeep.accounting import exports, fec
from simkeep.accounting import service as books_service
from simkeep.catalog import service as catalog
from simkeep.db import Database
from simkeep.ledger import service as ledger
from simkeep.migrate import upgrade

DATABASE = "simkeep_bench_accounting"
SUBSCRIBERS = 50_000
YEAR = (date(2027, 1, 1), date(2027, 12, 31))
MONTH = (date(2027, 3, 1), date(2027, 3, 31))
OPENED = datetime(2026, 12, 31, tzinfo=UTC)


def bench_accounting_pg(sizes: Sizes) -> None:
    entries = 25_000 if sizes.label == "quick" else 250_000
    folder = OUT / "accounting"
    folder.mkdir(parents=True, exist_ok=True)
    recreate_database(DATABASE)
    url = pg_url(DATABASE)
    try:
        upgrade(url)
        db = Database(url)
        try:
            _build(db, entries)
            _measure(db, folder, entries)
        finally:
            db.dispose()
    finally:
        drop_database(DATABASE)
        for path in folder.iterdir():
            path.unlink()


def _build(db: Database, entries: int) -> None:
    started = time.perf_counter()
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=OPENED)
        ledger.ensure_system_accounts(session, currencies={"EUR"}, now=OPENED)
    portal = ledger.clearing_account_id("EUR", "portal")
    expense = ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR")
    with psycopg.connect(pg_dsn(DATABASE)) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            "INSERT INTO ledger_accounts (id, code, kind, currency, balance_minor, created_at) "
            "SELECT md5(k || s)::uuid, k || ':' || md5('line' || s)::uuid, k, 'EUR', 0, '2026-12-31' "
            "FROM generate_series(0, %s - 1) s, unnest(ARRAY['subscriber_credit', 'subscriber_bonus']) k",
            [SUBSCRIBERS])
        # Entry g at an even spread over 2027; its kind by g mod 20; a top-up's reference names a top-up id.
        conn.execute(
            "INSERT INTO journal_entries (id, kind, reference, created_at) "
            "SELECT md5('e' || g)::uuid, kind, "
            "       CASE WHEN kind = 'topup' THEN 'topup:' || md5('t' || g)::uuid ELSE kind || ':' || g END, "
            "       timestamptz '2027-01-01 00:00:00+00' + (g * (365 * 86400.0 / %s)) * interval '1 second' "
            "FROM (SELECT g, CASE WHEN g %% 20 < 14 THEN 'topup' WHEN g %% 20 < 16 THEN 'voucher_sale' "
            "             WHEN g %% 20 < 18 THEN 'charge' WHEN g %% 20 = 18 THEN 'forfeit' ELSE 'refund' END AS kind "
            "      FROM generate_series(0, %s - 1) g) e",
            [entries, entries])
        conn.execute(
            "INSERT INTO postings (id, entry_id, account_id, amount_minor, currency) "
            "SELECT md5('p' || g || ':' || leg)::uuid, md5('e' || g)::uuid, "
            "       CASE leg WHEN 1 THEN md5('subscriber_credit' || (g %% %s))::uuid "
            "                WHEN 2 THEN %s::uuid "
            "                WHEN 3 THEN md5('subscriber_bonus' || (g %% %s))::uuid ELSE %s::uuid END, "
            "       CASE leg WHEN 1 THEN 1000 WHEN 2 THEN -1000 WHEN 3 THEN 100 ELSE -100 END, 'EUR' "
            "FROM generate_series(0, %s - 1) g, generate_series(1, 4) leg",
            [SUBSCRIBERS, portal, SUBSCRIBERS, expense, entries])
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE journal_entries")
        conn.execute("VACUUM ANALYZE postings")
        conn.execute("VACUUM ANALYZE ledger_accounts")
    note(f"accounting: {entries:,} entries, {entries * 4:,} postings built in {time.perf_counter() - started:.1f} s")


def _measure(db: Database, folder: Path, entries: int) -> None:
    postings = entries * 4
    with db.transaction(write=False) as session:
        year = books_service.books(session, first=YEAR[0], last=YEAR[1], currency="EUR")
        month = books_service.books(session, first=MONTH[0], last=MONTH[1], currency="EUR")

        started = time.perf_counter()
        with (folder / "fec.txt").open("wb") as file:
            for chunk in fec.encoded(books_service.journal(session, year), year):
                file.write(chunk)
        fec_s = time.perf_counter() - started

        started = time.perf_counter()
        with (folder / "journal.csv").open("w", encoding="utf-8") as text:
            for part in exports.journal_csv(books_service.journal(session, year), year):
                text.write(part)
        csv_s = time.perf_counter() - started

        started = time.perf_counter()
        balances = books_service.balances(session, year)
        balances_s = time.perf_counter() - started
        assert balances.total.debits_minor == balances.total.credits_minor == postings // 4 * 1100

        month_rows = sum(1 for _ in books_service.journal(session, month))
        started = time.perf_counter()
        with (folder / "month.xlsx").open("wb") as sheet:
            exports.xlsx(books_service.journal(session, month), books_service.balances(session, month), sheet)
        xlsx_s = time.perf_counter() - started

    lines = sum(1 for _ in (folder / "fec.txt").open("rb")) - 1
    assert lines == postings, (lines, postings)
    copy_s = _raw_copy(folder / "raw.tsv", year)
    report("accounting_fec_postings", postings, "postings")
    report("accounting_fec_s", round(fec_s, 2), "s")
    report("accounting_fec_rate", round(postings / fec_s), "postings/s")
    report("accounting_raw_copy_s", round(copy_s, 2), "s")
    report("accounting_fec_vs_copy_ratio", round(fec_s / copy_s, 1), "x")
    report("accounting_journal_csv_s", round(csv_s, 2), "s")
    report("accounting_balances_year_s", round(balances_s, 2), "s")
    report("accounting_xlsx_month_rows", month_rows, "rows")
    report("accounting_xlsx_month_s", round(xlsx_s, 2), "s")


def _raw_copy(path: Path, books: books_service.Books) -> float:
    """The baseline: the same postings with their entries and accounts, in the same order, COPY'd to a file."""
    query = ("COPY (SELECT e.created_at, e.kind, e.reference, a.code, a.kind, p.amount_minor "
             "      FROM journal_entries e JOIN postings p ON p.entry_id = e.id "
             "      JOIN ledger_accounts a ON a.id = p.account_id "
             "      WHERE e.created_at >= %s AND e.created_at < %s AND p.currency = 'EUR' "
             "      ORDER BY e.created_at, e.id, p.id) TO STDOUT")
    started = time.perf_counter()
    with (psycopg.connect(pg_dsn(DATABASE)) as conn, path.open("wb") as out,
          conn.cursor().copy(query, [books.since, books.until]) as copy):
        for block in copy:
            out.write(block)
    return time.perf_counter() - started
