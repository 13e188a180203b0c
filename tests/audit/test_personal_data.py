"""No audit entry holds a phone number or an e-mail address: the chain can never be erased, so it must never hold
what a subscriber's erasure has to remove. A representative flow (a payment settled from the review queue, a
store sale with an ID check (never audited: only id_checks holds it) and a void, a saved auto-renew card, a number file import, staff reasons that quote a
number and an address) leaves none in any entry; and the masking itself leaves serials and references alone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.audit import service as audit
from simkeep.audit.models import AuditEntry
from simkeep.audit.redact import redact
from simkeep.catalog import service as catalog
from simkeep.config import Settings
from simkeep.network import inventory
from simkeep.payment import review
from simkeep.payment.providers.base import SavedRef
from simkeep.plan import autorenew
from simkeep.store import console
from simkeep.store import service as stores
from tests.conftest import SANDBOX_ROUTES, TEST_SECRET
from tests.factories.counter import make_store_person
from tests.factories.lines import make_line
from tests.factories.payments import SECRET, in_review_line_lost, now
from tests.factories.stores import make_store, open_drawer, sell, seller

IN_REVIEW, AT_THE_STORE = "+33612345678", "+33612345679"
EMAIL = "jean.dupont@example.fr"


@pytest.fixture
def cfg(db, tmp_path) -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path, secret_key=TEST_SECRET, sandbox_webhook_secret=SECRET,
                    sandbox_enabled=True, payment_routes=SANDBOX_ROUTES, public_url="http://127.0.0.1:9")


@pytest.mark.parametrize(("text", "masked"), [
    ("customer +33 6 12 34 56 78 called", "customer +336******78 called"),
    ("call 06 12 34 56 78 or write to jean.dupont@example.fr", "call +336******78 or write to j***@example.fr"),
    ("138 1234 5678 and +86 138 1234 5678", "+861********78 and +861********78"),
    ("+44 7911 123456", "+447*******56"),
    ("block 100000000001-100000000500", "block 100000000001-100000000500"),
    ("receipt RCPT-2027-000123, entry 20270301123456", "receipt RCPT-2027-000123, entry 20270301123456"),
    ("iccid 8933010000000000017, 10.00 EUR on 2027-03-01 09:00", "iccid 8933010000000000017, 10.00 EUR on 2027-03-01 09:00"),
])
def test_numbers_and_addresses_are_masked_and_nothing_else(text, masked):
    assert redact(text) == masked


def test_a_representative_flow_leaves_no_number_or_address_in_the_audit_log(db, cfg, settings):
    make_line(db, msisdn=IN_REVIEW, now=now())
    attempt_id = in_review_line_lost(db, cfg)
    with db.transaction() as session:
        review.settle(session, attempt_id=attempt_id, decision=review.DISMISS, actor="staff:eve",
                      reason=f"payer called from 06 12 34 56 78, refunded by hand, receipt to {EMAIL}",
                      receipt_secret=cfg.key("receipt"), base_url=cfg.base_url, now=now())

    line = make_line(db, msisdn=AT_THE_STORE, now=now())
    store = make_store(db, now=now())
    agent = make_store_person(db, settings, store, username="agent-1")
    manager = make_store_person(db, settings, store, username="manager-1", role="store_manager")
    who = seller(store, agent)
    open_drawer(db, who, now=now())
    with db.transaction() as session:
        console.record_id_check(session, store_id=store.id, line=line, document_type="passport",
                                issuing_country="FR", last4="AB12", checked_by=who.actor, now=now())
    sale = sell(db, who, msisdn=AT_THE_STORE, now=now()).outcome()
    with db.transaction() as session:
        stores.void(session, sale_id=sale.id, store_id=store.id, by=f"staff:{manager.username}",
                    reason=f"wrong number: customer meant {AT_THE_STORE[:-1]}0", now=now(),
                    window=timedelta(days=1))
        autorenew.save_method(session, line=line, provider="sandbox", method="card",
                              saved=SavedRef(customer_ref="cus_1", method_ref="pm_1", label="Visa •••• 4242"),
                              now=now())
        inventory.import_numbers(session, ["first,last\n", "+33612345600,+33612345699\n"],
                                 operator=catalog.get_operator(session, "fr-orange-mobicarte"), source="pool.csv",
                                 actor="staff:alice", now=now())
        audit.record(session, actor="staff:alice", action="line.note", subject_type="line", subject_id=str(line.id),
                     reason="asked to be called back", details={"callback": "06 12 34 56 79", "mail": EMAIL},
                     now=now())

    with db.transaction(write=False) as session:
        written = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    actions = {e.action for e in written}
    assert {"review.dismiss", "store.sale_voided", "autorenew.method_saved", "numbers.import",
            "line.note"} <= actions
    personal = [IN_REVIEW, AT_THE_STORE, AT_THE_STORE[:-1] + "0", "0612345678", "0612345679", "06 12 34 56",
                "612345678", "612345679", "+33612345600", "+33612345699", EMAIL, "jean.dupont"]
    leaks = [(e.seq, e.action, found) for e in written for found in personal
             if found in " ".join([e.actor, e.subject_id, e.reason, json.dumps(e.details, ensure_ascii=False)])]
    assert leaks == []
    with db.transaction(write=False) as session:
        assert audit.verify(session).broken is None
