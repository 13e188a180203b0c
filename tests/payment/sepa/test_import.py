"""Bank transfers end to end: order → EPC details → camt.053 import → inbox → worker → one credit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from stdnum import iso11649

from simkeep.audit import service as audit
from simkeep.config import Settings
from simkeep.core.errors import InvalidInput
from simkeep.ledger import service as ledger
from simkeep.line import service as lines
from simkeep.payment import service as payments
from simkeep.payment.models import InboxEvent, PaymentAttempt
from simkeep.payment.providers import provider_named
from simkeep.payment.providers.base import Checkout, ProviderDeclined, WebhookRejected
from simkeep.payment.providers.sepa import service as bank
from simkeep.payment.providers.sepa.models import BankEntry, BankStatement
from simkeep.payment.providers.sepa.provider import SepaNotUsable, SepaProvider
from simkeep.payment.tasks import process_inbox, reconcile
from simkeep.topup.models import TopUp
from tests.conftest import SANDBOX_ROUTES, TEST_SECRET
from tests.factories.lines import make_line, view
from tests.factories.payments import now
from tests.factories.snapshot import count, snapshot
from tests.payment.sepa.statements import Credit, document, statement

DATA = Path(__file__).parent / "data"


@pytest.fixture
def cfg(db, tmp_path) -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path, secret_key=TEST_SECRET, public_url="http://127.0.0.1:9",
                    sandbox_enabled=True, payment_routes=SANDBOX_ROUTES,
                    sepa_creditor_name="Opérateur Démo SAS", sepa_iban="FR76 3000 6000 0112 3456 7890 189",
                    sepa_bic="agrifrpp")


def order(db, cfg, *, key: str, offer_id: str = "fr-orange-mobicarte-10", msisdn: str = "+33612345678"):
    """The portal's confirm step for a bank transfer: attempt, then the provider, then what it said."""
    provider = SepaProvider(db, cfg)
    with db.transaction() as session:
        line, operator, offer = lines.lock_live_line(session, msisdn, offer_id)
        attempt, _ = payments.start_checkout(session, checkout_key=key, line=line, operator=operator, offer=offer,
                                             method="bank_transfer", provider="sepa", language="fr", now=now())
    created = provider.create_payment(Checkout(str(attempt.id), attempt.amount_minor, attempt.currency,
                                               "bank_transfer", "test", f"/pay/{attempt.id}", "fr"))
    with db.transaction() as session:
        payments.record_created(session, attempt.id, created, now=now())
    return attempt.id, created.ref


def import_(db, data: bytes) -> bank.ImportResult:
    with db.transaction() as session:
        return bank.import_statement(session, data=data, now=now())


def attempt(db, attempt_id) -> PaymentAttempt:
    with db.transaction(write=False) as session:
        return session.get(PaymentAttempt, attempt_id)


def entries(db) -> dict[str, BankEntry]:
    with db.transaction(write=False) as session:
        return {e.entry_ref: e for e in session.scalars(select(BankEntry))}


def counts(result: bank.ImportResult) -> tuple[int, int, int, int]:
    return result.new, result.duplicate, result.matched, result.review


def ledger_clean(db) -> bool:
    with db.transaction(write=False) as session:
        return ledger.verify(session).ok


# -- the provider ---------------------------------------------------------------------------------------------

def test_create_payment_gives_the_account_and_the_reference(db, cfg):
    provider = provider_named("sepa", db, cfg)
    assert isinstance(provider, SepaProvider) and provider.name == "sepa"
    created = provider.create_payment(Checkout("01930000-0000-7000-8000-00000000a001", 1000, "EUR", "bank_transfer",
                                               "Orange Mobicarte", "/pay/x", "fr"))
    assert created.ref == "RF902E4NENOWZ3QMBIF5" and iso11649.is_valid(created.ref)
    assert created.next_action == {"type": "bank_transfer", "iban": "FR7630006000011234567890189", "bic": "AGRIFRPP",
                                   "creditor": "Opérateur Démo SAS", "reference": "RF902E4NENOWZ3QMBIF5",
                                   "amount_minor": 1000, "currency": "EUR"}


@pytest.mark.parametrize(("changes", "checkout", "message"), [
    ({"sepa_iban": "FR7630006000011234567890188"}, {}, "SIMKEEP_SEPA_IBAN .* is not a valid IBAN"),
    ({"sepa_bic": "AGRI"}, {}, "SIMKEEP_SEPA_BIC 'AGRI' is not a valid BIC"),
    ({}, {"currency": "CNY"}, "SEPA credit transfers are in euro"),
    ({}, {"method": "card"}, "collects bank transfers, not card payments"),
])
def test_create_payment_refuses_to_show_wrong_details(db, cfg, changes, checkout, message):
    provider = SepaProvider(db, cfg.model_copy(update=changes))
    args = dict(attempt_id="01930000-0000-7000-8000-00000000a001", amount_minor=1000, currency="EUR",
                method="bank_transfer", description="x", return_url="/pay/x", language="fr") | checkout
    with pytest.raises(SepaNotUsable, match=message) as caught:
        provider.create_payment(Checkout(**args))
    assert caught.value.code == "sepa_not_usable"


def test_no_webhooks_and_no_automatic_refunds(db, cfg):
    provider = SepaProvider(db, cfg)
    with pytest.raises(WebhookRejected, match="importing the bank statement"):
        provider.parse_webhook(b"{}", {})
    with pytest.raises(ProviderDeclined, match="outgoing transfer") as caught:
        provider.refund("RF18539007547034", amount_minor=100, currency="EUR", idempotency_key="r1")
    assert caught.value.code == "sepa_refund_by_hand"


# -- an exact payment -----------------------------------------------------------------------------------------

def test_an_exact_transfer_credits_once_and_reimporting_changes_nothing(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = order(db, cfg, key="o1")
    provider = SepaProvider(db, cfg)
    assert provider.fetch_status(ref).status == "pending"
    data = statement("S-0302", [Credit("BANK-1", "10.00", rf=iso11649.format(ref), debtor="Jean Dupont"),
                                Credit("BANK-2", "99.00", direction="DBIT")])

    result = import_(db, data)
    assert (result.imported, result.already_imported, counts(result), result.ignored) == (["S-0302"], [], (1, 0, 1, 0), 1)
    entry = entries(db)["BANK-1"]
    assert (entry.status, entry.attempt_id, entry.reference, entry.amount_minor, entry.debtor, entry.note) == (
        "matched", attempt_id, ref, 1000, "Jean Dupont", None)
    with db.transaction(write=False) as session:
        [event] = session.scalars(select(InboxEvent)).all()
    assert (event.provider, event.event_id, event.type, event.payload["ref"], event.payload["amount_minor"]) == (
        "sepa", "camt:BANK-1", "payment.succeeded", ref, 1000)
    assert view(db).credit.minor == 0  # the worker credits, not the import

    assert process_inbox(db, cfg) == 1
    assert process_inbox(db, cfg) == 0
    assert attempt(db, attempt_id).status == "succeeded"
    assert view(db).credit.minor == 1000
    assert (count(db, TopUp), count(db, InboxEvent), count(db, BankEntry), count(db, BankStatement)) == (1, 1, 1, 1)
    status = provider.fetch_status(ref)
    assert (status.status, status.amount_minor, status.currency) == ("succeeded", 1000, "EUR")

    before = snapshot(db)
    again = import_(db, data)
    assert (again.nothing_new, again.already_imported, counts(again)) == (True, ["S-0302"], (0, 0, 0, 0))
    assert again.summary() == "already imported: nothing changed"
    # the same statement id in another file (re-exported as version 08): still nothing
    assert import_(db, statement("S-0302", [Credit("BANK-1", "10.00", rf=ref)], version="08")).nothing_new
    assert process_inbox(db, cfg) == 0
    assert snapshot(db) == before

    # a later statement repeating the entry (an intraday statement, then the end-of-day one) brings it once
    later = import_(db, statement("S-0302-EOD", [Credit("BANK-1", "10.00", rf=ref), Credit("BANK-3", "5.00")],
                                  version="08"))
    assert counts(later) == (1, 1, 0, 1)
    assert process_inbox(db, cfg) == 0
    assert view(db).credit.minor == 1000 and count(db, TopUp) == 1
    assert ledger_clean(db)


# -- everything that is not exact ---------------------------------------------------------------------------

def test_partial_over_unreferenced_and_already_paid_transfers_all_wait_for_review(db, cfg):
    make_line(db, now=now())
    paid_id, paid_ref = order(db, cfg, key="paid")
    import_(db, statement("S-1", [Credit("B-PAID", "10.00", rf=paid_ref)]))
    assert process_inbox(db, cfg) == 1
    under_id, under_ref = order(db, cfg, key="under")
    over_id, over_ref = order(db, cfg, key="over")
    failed_id, failed_ref = order(db, cfg, key="failed", offer_id="fr-orange-mobicarte-5")
    usd_id, usd_ref = order(db, cfg, key="usd")
    with db.transaction() as session:
        payments.record_unavailable(session, failed_id, reason="expired", now=now())
    before = snapshot(db)

    result = import_(db, statement("S-2", [
        Credit("B-UNDER", "5.00", rf=under_ref),
        Credit("B-OVER", "15.00", text=f"recharge {iso11649.format(over_ref)}"),
        Credit("B-NOREF", "10.00", text="cadeau"),
        Credit("B-AGAIN", "10.00", rf=paid_ref),
        Credit("B-UNKNOWN", "10.00", rf="RF18539007547034"),
        Credit("B-TYPO", "10.00", rf=under_ref[:-1] + ("A" if under_ref[-1] != "A" else "B")),
        Credit("B-LATE", "5.00", rf=failed_ref),
        Credit("B-USD", "10.00", rf=usd_ref, currency="USD"),
    ], version="08"))
    assert counts(result) == (8, 0, 0, 8)
    got = {ref: (e.status, e.attempt_id, e.note) for ref, e in entries(db).items() if ref != "B-PAID"}
    assert got == {
        "B-UNDER": ("review", under_id, "under-paid: 5.00 EUR received, 10.00 EUR due"),
        "B-OVER": ("review", over_id, "over-paid: 15.00 EUR received, 10.00 EUR due"),
        "B-NOREF": ("review", None, "no payment reference"),
        "B-AGAIN": ("review", paid_id, "order already paid: 10.00 EUR received again"),
        "B-UNKNOWN": ("review", None, "no order has reference RF18539007547034"),
        "B-TYPO": ("review", None, got["B-TYPO"][2]),
        "B-LATE": ("review", failed_id, "order is failed, not awaiting payment: 5.00 EUR received"),
        "B-USD": ("review", usd_id, "paid 10.00 USD, the order is 10.00 EUR"),
    }
    assert got["B-TYPO"][2].endswith("is not a valid RF creditor reference")

    assert process_inbox(db, cfg) == 0
    after = snapshot(db)
    assert after["balances"] == before["balances"]
    changed = {t: (before["counts"][t], n) for t, n in after["counts"].items() if n != before["counts"][t]}
    assert changed == {"bank_statements": (1, 2), "bank_entries": (1, 9)}  # no inbox event, top-up or posting
    # the orders that received money, just not as ordered, wait for a person too; the paid one is left alone
    assert {i: (attempt(db, i).status, attempt(db, i).failure_reason) for i in (under_id, over_id, usd_id, failed_id)} == {
        under_id: ("review", "bank_transfer: B-UNDER: under-paid: 5.00 EUR received, 10.00 EUR due"),
        over_id: ("review", "bank_transfer: B-OVER: over-paid: 15.00 EUR received, 10.00 EUR due"),
        usd_id: ("review", "bank_transfer: B-USD: paid 10.00 USD, the order is 10.00 EUR"),
        failed_id: ("review", "bank_transfer: B-LATE: order is failed, not awaiting payment: 5.00 EUR received"),
    }
    assert attempt(db, paid_id).status == "succeeded"
    # a second transfer for an order in review is for review as well
    import_(db, statement("S-3", [Credit("B-REST", "5.00", rf=under_ref)]))
    assert entries(db)["B-REST"].note == "order already in review: 5.00 EUR received"
    assert view(db).credit.minor == 1000 and count(db, TopUp) == 1
    assert SepaProvider(db, cfg).fetch_status(under_ref).status == "pending"
    with db.transaction(write=False) as session:
        assert bank.unmatched_totals(session) == {"EUR": (8, 500 + 1500 + 4 * 1000 + 500 + 500), "USD": (1, 1000)}
    assert ledger_clean(db)


def test_two_transfers_for_one_order_in_one_statement_credit_once(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = order(db, cfg, key="twice")
    result = import_(db, statement("S-1", [Credit("B-1", "10.00", rf=ref), Credit("B-2", "10.00", rf=ref)]))
    assert counts(result) == (2, 0, 1, 1)
    assert entries(db)["B-2"].note == "order already paid: 10.00 EUR received again"
    assert process_inbox(db, cfg) == 1
    assert (attempt(db, attempt_id).status, view(db).credit.minor, count(db, TopUp)) == ("succeeded", 1000, 1)


def test_a_bank_reference_reused_for_another_credit_is_kept_not_dropped(db, cfg):
    """Without AcctSvcrRef the entry number is the reference, and banks restart it in every statement."""
    make_line(db, now=now())
    first_id, first_ref = order(db, cfg, key="a")
    second_id, second_ref = order(db, cfg, key="b", offer_id="fr-orange-mobicarte-5")
    assert counts(import_(db, statement("D1", [Credit(None, "10.00", rf=first_ref, booked="2027-03-01")]))) == (1, 0, 1, 0)
    result = import_(db, statement("D2", [Credit(None, "5.00", rf=second_ref, booked="2027-03-02")]))
    assert counts(result) == (1, 0, 1, 0)
    got = {ref: (e.status, e.attempt_id, e.note) for ref, e in entries(db).items()}
    assert got == {"1": ("matched", first_id, None),
                   "1@D2": ("matched", second_id, "the bank reused entry reference 1 for a different credit")}
    # a later statement repeating either entry under its number: already known
    assert counts(import_(db, statement("D3", [Credit(None, "5.00", rf=second_ref, booked="2027-03-02")]))) == (0, 1, 0, 0)
    assert counts(import_(db, statement("D4", [Credit(None, "10.00", rf=first_ref, booked="2027-03-01")]))) == (0, 1, 0, 0)
    # under another number it cannot be told from a second payment: it waits for review, it is never credited
    result = import_(db, statement("D5", [Credit(None, "1.00"), Credit(None, "10.00", rf=first_ref, booked="2027-03-01")]))
    assert counts(result) == (2, 0, 0, 2)
    assert entries(db)["2"].note == "order already paid: 10.00 EUR received again"
    assert process_inbox(db, cfg) == 2
    assert view(db).credit.minor == 1500 and count(db, TopUp) == 2
    assert ledger_clean(db)


def test_a_file_with_two_statements_imports_each_once(db, cfg):
    make_line(db, now=now())
    _, ref = order(db, cfg, key="a")
    one = statement("A", [Credit("B-1", "10.00", rf=ref)])
    assert counts(import_(db, one)) == (1, 0, 1, 0)
    both = document([("A", [Credit("B-1", "10.00", rf=ref)]), ("B", [Credit("B-2", "3.00")])])
    result = import_(db, both)
    assert (result.imported, result.already_imported, counts(result)) == (["B"], ["A"], (1, 0, 0, 1))
    assert import_(db, both).nothing_new
    assert count(db, BankStatement) == 2


def test_the_sample_statements_import(db, cfg):
    """The hand-written .02 and .08 files: their references name no order here, so everything is for review."""
    r02 = import_(db, (DATA / "camt053_v02.xml").read_bytes())
    r08 = import_(db, (DATA / "camt053_v08.xml").read_bytes())
    assert (counts(r02), r02.ignored, counts(r08), r08.ignored) == ((6, 0, 0, 6), 2, (3, 0, 0, 3), 1)
    notes = {ref: e.note for ref, e in entries(db).items()}
    assert notes["BNP2027030200000020"] == "reversal of an earlier debit, not a payment"
    assert notes["2027030100001240"] == "reference RF00 1234 5678 is not a valid RF creditor reference"
    assert count(db, InboxEvent) == 0


def test_a_broken_file_changes_nothing(db, cfg):
    make_line(db, now=now())
    _, ref = order(db, cfg, key="a")
    before = snapshot(db)
    with pytest.raises(bank.camt.CamtError, match="more decimals than EUR allows"):
        import_(db, statement("S", [Credit("B-1", "10.00", rf=ref), Credit("B-2", "1.001")]))
    assert snapshot(db) == before


# -- races --------------------------------------------------------------------------------------------------------

def test_the_same_statement_imported_twice_at_once_credits_once(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = order(db, cfg, key="race")
    data = statement("S-RACE", [Credit("B-1", "10.00", rf=ref)])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: import_(db, data), range(4)))
    assert sorted(r.nothing_new for r in results) == [False, True, True, True]
    assert process_inbox(db, cfg) == 1
    assert (attempt(db, attempt_id).status, view(db).credit.minor, count(db, BankEntry)) == ("succeeded", 1000, 1)


def test_two_statements_paying_one_order_at_once_match_one(db, cfg):
    make_line(db, now=now())
    attempt_id, ref = order(db, cfg, key="race")
    files = [statement(f"S-{n}", [Credit(f"B-{n}", "10.00", rf=ref)]) for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda data: import_(db, data), files))
    assert sorted(r.matched for r in results) == [0, 0, 0, 1]
    assert sorted(e.status for e in entries(db).values()) == ["matched", "review", "review", "review"]
    assert process_inbox(db, cfg) == 1
    assert (attempt(db, attempt_id).status, view(db).credit.minor, count(db, TopUp)) == ("succeeded", 1000, 1)
    assert ledger_clean(db)


# -- review queue -------------------------------------------------------------------------------------------------

def test_staff_settle_an_entry_in_review_with_a_reason(db, cfg):
    import_(db, statement("S", [Credit("B-1", "7.00")]))
    entry = entries(db)["B-1"]
    before = snapshot(db)
    with db.transaction() as session, pytest.raises(InvalidInput):
        bank.settle(session, entry_id=entry.id, actor="alice", reason=" ", now=now())
    assert snapshot(db) == before
    with db.transaction() as session:
        settled = bank.settle(session, entry_id=entry.id, actor="alice", reason="refunded by transfer 2027-03-04",
                              now=now())
    assert settled.status == "settled"
    with db.transaction() as session, pytest.raises(bank.EntryNotInReview):
        bank.settle(session, entry_id=entry.id, actor="alice", reason="again", now=now())
    with db.transaction(write=False) as session:
        [record] = audit.for_subject(session, "bank_entry", str(entry.id))
        assert (record.actor, record.action, record.reason) == ("alice", "bank_entry.settle", "refunded by transfer 2027-03-04")
        assert [e.entry_ref for e in bank.entries(session)] == []
        assert [e.entry_ref for e in bank.entries(session, status="settled")] == ["B-1"]


def test_a_transfer_never_sent_expires_its_reference_and_one_arriving_later_still_waits_for_review(db, cfg):
    make_line(db, now=now())
    attempt_id, reference = order(db, cfg, key="never-sent")
    for days, status in ((13, "pending"), (15, "abandoned")):  # a transfer has TRANSFER_WAIT (14 days) to arrive
        with db.transaction() as session:
            session.execute(update(PaymentAttempt).where(PaymentAttempt.id == attempt_id).values(
                created_at=now() - timedelta(days=days), updated_at=now() - timedelta(days=days)))
        assert reconcile(db, cfg) == 1
        assert attempt(db, attempt_id).status == status
    before = snapshot(db)["balances"]
    result = import_(db, statement("S-AFTER", [Credit("B-AFTER", "10.00", rf=reference)]))
    assert counts(result) == (1, 0, 0, 1)  # the money is kept, not matched to the closed order
    late = attempt(db, attempt_id)
    assert (late.status, late.failure_reason) == (
        "review", "bank_transfer: B-AFTER: order is abandoned, not awaiting payment: 10.00 EUR received")
    process_inbox(db, cfg)
    assert snapshot(db)["balances"] == before and count(db, TopUp) == 0
