"""The back office's recharge-card pages: batches made and exported once, maker-checker on serial ranges, and
support's lookup. Real pages through a TestClient, a real database; on every refusal nothing moved."""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select

from simkeep.audit.models import AuditEntry
from simkeep.ledger import service as ledger
from simkeep.main import create_app
from simkeep.reseller import service as resellers
from simkeep.voucher import export, pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import BulkAction, Voucher, VoucherBatch
from tests.factories.lines import make_line, view
from tests.factories.payments import now
from tests.factories.staff import csrf_of, make_staff, next_code
from tests.factories.vouchers import KEYS, OFFER, make_batch, make_reseller, redeem, sell

PAGES = ("/admin/vouchers", "/admin/vouchers/actions", "/admin/vouchers/lookup")


@pytest.fixture
def staff(db, settings):
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


def enter(client: TestClient, db, settings, username: str, role: str, **account) -> str:
    """Sign `username` in through the real pages (whatever page their role lands on); the form's CSRF token."""
    member = make_staff(db, settings, username=username, role=role, **account)
    client.cookies.clear()
    token = csrf_of(client.get("/admin").text)
    answer = client.post("/admin", data={"username": username, "password": member.password, "csrf_token": token})
    if answer.headers["location"] == "/admin/totp":
        answer = client.post("/admin/totp", data={"code": next_code(db, member), "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/admin/account").text)


def page_text(answer) -> str:
    """What the page says, tags out, runs of ASCII white space as one space (no-break spaces kept)."""
    body = answer.text[answer.text.index("<main"):]
    return html.unescape(re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]*>", " ", body))).strip()


def batches(db) -> list[VoucherBatch]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(VoucherBatch).order_by(VoucherBatch.serial_from)))


def states(db, batch: VoucherBatch) -> dict[str, int]:
    with db.transaction(write=False) as session:
        return dict(session.execute(select(Voucher.state, func.count()).where(
            Voucher.serial.between(batch.serial_from, batch.serial_to)).group_by(Voucher.state)).all())


def audit(db, action: str) -> list[AuditEntry]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.at, AuditEntry.id)))


def float_of(db, code: str = "TABAC-RIVOLI") -> int:
    with db.transaction(write=False) as session:
        return resellers.float_balance(session, resellers.by_code(session, code)).minor


def create_form(token: str, **fields: str) -> dict:
    return {"offer": OFFER, "quantity": "10", "expires": (now().date() + timedelta(days=200)).isoformat(),
            "reason": "print run for the spring", "csrf_token": token, **fields}


# -- who may see and do what ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "finance", "support"])
def test_the_voucher_pages_open_for_staff_who_may_read_them(db, settings, staff, role):
    batch, _cards = make_batch(db, quantity=3, now=now())
    token = enter(staff, db, settings, "sam", role)
    for path in (*PAGES, f"/admin/vouchers/batches/{batch.id}"):
        assert staff.get(path).status_code == 200, path
    listing = staff.get("/admin/vouchers").text
    account = staff.get("/admin/account").text
    assert 'href="/admin/vouchers"' in account and 'href="/admin/vouchers/lookup"' in account
    assert 'href="/admin/vouchers"' in staff.get("/admin/review").text
    may_manage = role != "support"
    assert ('action="/admin/vouchers/batches"' in listing) is may_manage
    assert ('id="block-form"' in staff.get(f"/admin/vouchers/batches/{batch.id}").text) is may_manage
    if not may_manage:  # support looks; changing anything is refused and makes nothing
        assert staff.post("/admin/vouchers/batches", data=create_form(token)).status_code == 403
        assert staff.post(f"/admin/vouchers/batches/{batch.id}/actions", data={
            "action": "block", "serial_from": batch.serial_from, "serial_to": batch.serial_to, "reason": "x",
            "csrf_token": token}).status_code == 403
        assert len(batches(db)) == 1 and states(db, batch) == {"generated": 3}


def test_other_roles_get_403_and_strangers_the_sign_in_page(db, settings, staff):
    batch, _cards = make_batch(db, quantity=1, now=now())
    paths = (*PAGES, f"/admin/vouchers/batches/{batch.id}")
    for path in paths:
        assert staff.get(path).headers["location"] == "/admin"
    enter(staff, db, settings, "rita", "reseller", reseller_id=make_reseller(db, now=now()).id)
    for path in paths:
        answer = staff.get(path)
        assert answer.status_code == 403 and "Your role does not allow this." in answer.text
    assert 'href="/admin/vouchers"' not in staff.get("/admin/account").text


# -- a batch made here, exported once --------------------------------------------------------------------------------

def test_a_batch_made_here_is_exported_once_as_a_csv_and_a_pdf_whose_pins_redeem(db, settings, staff):
    token = enter(staff, db, settings, "fay", "finance")
    made = staff.post("/admin/vouchers/batches", data=create_form(token))
    assert made.status_code == 303 and made.headers["location"] == "/admin/vouchers?done=created"
    [batch] = batches(db)
    assert (batch.quantity, batch.serial_to - batch.serial_from, batch.offer_id) == (10, 9, OFFER)
    assert batch.exported_at is None and batch.export_sealed is not None
    assert states(db, batch) == {"generated": 10}
    [created] = audit(db, "voucher.batch.create")
    assert (created.actor, created.reason) == ("staff:fay", "print run for the spring")
    # The card works through the last day chosen, in the operator's zone (Paris): it expires at the next midnight.
    last_day = now().date() + timedelta(days=200)
    assert batch.expires_at == datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=ZoneInfo("Europe/Paris"))
    listing = staff.get("/admin/vouchers?done=created")
    assert "Batch made." in page_text(listing) and f'action="/admin/vouchers/batches/{batch.id}/export"' in listing.text

    answer = staff.post(f"/admin/vouchers/batches/{batch.id}/export", data={"csrf_token": token})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    stem = f"vouchers-{batch.serial_from}-{batch.serial_to}"
    assert answer.headers["content-disposition"] == f'attachment; filename="{stem}.zip"'
    assert answer.headers["cache-control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert sorted(archive.namelist()) == [f"{stem}.csv", f"{stem}.pdf"]
    rows = list(csv.DictReader(io.StringIO(archive.read(f"{stem}.csv").decode())))
    assert [int(r["serial"]) for r in rows] == list(range(batch.serial_from, batch.serial_to + 1))
    pdf = archive.read(f"{stem}.pdf")
    assert pdf.startswith(b"%PDF") and len(PdfReader(io.BytesIO(pdf)).pages) == 2  # 8 cards a page

    exported = batches(db)[0]
    assert exported.exported_by == "staff:fay" and exported.exported_at is not None
    assert exported.export_sealed is None  # the sealed copy is gone for good
    assert len(audit(db, "voucher.batch.export")) == 1

    again = staff.post(f"/admin/vouchers/batches/{batch.id}/export", data={"csrf_token": token})
    assert again.status_code == 409 and again.headers["content-type"].startswith("text/html")
    assert "exported once already: they are never shown again" in page_text(again)
    assert batches(db)[0].exported_at == exported.exported_at and len(audit(db, "voucher.batch.export")) == 1
    assert "/export" not in staff.get("/admin/vouchers").text

    # The PINs handed out are the cards': sold, each redeems once, on its own line.
    make_reseller(db, now=now())
    sell(db, serial_from=batch.serial_from, serial_to=batch.serial_to, now=now())
    for i, row in enumerate(rows):
        assert row["pin_grouped"] == pins.grouped(row["pin"]) and row["expires_on"] == batch.expires_at.date().isoformat()
        msisdn = f"+336123456{i:02d}"
        make_line(db, msisdn=msisdn, now=now())
        before = view(db, msisdn).balance.minor
        assert redeem(db, pin=row["pin"], msisdn=msisdn, now=now()).outcome().topup.price_minor == 1000
        assert view(db, msisdn).balance.minor == before + 1000
    assert states(db, batch) == {"redeemed": 10}


def test_of_two_exports_at_once_only_one_hands_the_pins_out(db, settings, staff, monkeypatch):
    """The zip is laid out before the seal is erased: a rival export that erases it meanwhile wins, and this one
    sends nothing (409), so the PINs leave the server once."""
    token = enter(staff, db, settings, "fay", "finance")
    staff.post("/admin/vouchers/batches", data=create_form(token))
    [batch] = batches(db)
    real = export.zip_bytes

    def rival_first(*args, **kwargs):
        with db.transaction() as session:
            vouchers.export_batch(session, batch.id, actor="staff:gus", keys=KEYS, now=now())
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "zip_bytes", rival_first)
    answer = staff.post(f"/admin/vouchers/batches/{batch.id}/export", data={"csrf_token": token})
    assert answer.status_code == 409 and answer.headers["content-type"].startswith("text/html")
    assert [e.actor for e in audit(db, "voucher.batch.export")] == ["staff:gus"]
    assert batches(db)[0].exported_by == "staff:gus"


@pytest.mark.parametrize(("fields", "lang", "message"), [
    ({"quantity": "0"}, "en", "Choose a number of cards between 1 and 100,000."),
    ({"quantity": "100001"}, "fr", "Choisissez un nombre de cartes entre 1 et 100\u202f000."),
    ({"quantity": "lots"}, "zh_CN", "请选择 1 到 100,000 张之间的卡数。"),
    ({"expires": "2020-01-01"}, "en", "Choose an expiry date after today and within ten years, written YYYY-MM-DD."),
    ({"expires": "31/12/2030"}, "en", "Choose an expiry date after today and within ten years, written YYYY-MM-DD."),
    ({"reason": "  "}, "fr", "Donnez un motif\u00a0: il est conservé dans le journal d’audit."),
    ({"offer": "no-such-offer"}, "en", "Choose an offer from the list."),
])
def test_a_batch_that_cannot_be_made_is_refused_in_words_and_nothing_is_made(db, settings, staff, fields, lang,
                                                                              message):
    token = enter(staff, db, settings, "fay", "finance")
    answer = staff.post(f"/admin/vouchers/batches?lang={lang}", data=create_form(token, **fields))
    assert answer.status_code == 422
    assert message in page_text(answer)
    assert batches(db) == [] and audit(db, "voucher.batch.create") == []
    assert 'value="print run for the spring"' in answer.text or fields.get("reason")  # the form keeps what was typed


def test_a_form_without_its_csrf_token_is_refused(db, settings, staff):
    token = enter(staff, db, settings, "fay", "finance")
    assert staff.post("/admin/vouchers/batches", data=create_form(token, csrf_token="forged")).status_code == 403
    assert batches(db) == []


# -- serial ranges: sell, block, unblock; maker-checker past 1,000 cards -----------------------------------------------

def test_a_small_block_and_unblock_run_at_once_and_are_audited(db, settings, staff):
    batch, _cards = make_batch(db, quantity=20, now=now())
    token = enter(staff, db, settings, "fay", "finance")
    first, last = batch.serial_from + 5, batch.serial_from + 14
    answer = staff.post(f"/admin/vouchers/batches/{batch.id}/actions", data={
        "action": "block", "serial_from": str(first), "serial_to": str(last), "reason": "box 2 stolen",
        "csrf_token": token})
    assert answer.headers["location"] == f"/admin/vouchers/batches/{batch.id}?done=done&num=10"
    assert states(db, batch) == {"generated": 10, "blocked": 10}
    assert "Done: 10 cards changed state." in page_text(staff.get(answer.headers["location"]))
    [entry] = audit(db, "voucher.block")
    assert (entry.actor, entry.reason, entry.details["changed"]) == ("staff:fay", "box 2 stolen", 10)
    staff.post(f"/admin/vouchers/batches/{batch.id}/actions", data={
        "action": "unblock", "serial_from": str(first), "serial_to": str(first + 1), "reason": "found again",
        "csrf_token": token})
    assert states(db, batch) == {"generated": 12, "blocked": 8}


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"serial_to": "1"}, 422, "Give serial numbers of this batch, from {first} to {last}, the first not after the last."),
    ({"reason": ""}, 422, "Give a reason: it is kept in the audit log."),
    ({"action": "sell", "reseller": ""}, 422, "Choose the reseller who buys these cards."),
    ({"action": "sell", "reseller": "NOBODY"}, 404, "No active reseller has this code."),
    ({"action": "sell", "reseller": "POOR"}, 402, "The reseller's float is too small to pay for these cards: nothing was sold."),
])
def test_a_range_action_that_cannot_run_changes_nothing(db, settings, staff, fields, status, message):
    batch, _cards = make_batch(db, quantity=20, now=now())
    make_reseller(db, code="POOR", deposit_minor=100, now=now())
    token = enter(staff, db, settings, "fay", "finance")
    data = {"action": "block", "serial_from": str(batch.serial_from), "serial_to": str(batch.serial_to),
            "reason": "box lost", "csrf_token": token, **fields}
    answer = staff.post(f"/admin/vouchers/batches/{batch.id}/actions", data=data)
    assert answer.status_code == status
    assert message.format(first=batch.serial_from, last=batch.serial_to) in page_text(answer)
    assert states(db, batch) == {"generated": 20} and float_of(db, "POOR") == 100
    with db.transaction(write=False) as session:
        assert session.scalars(select(func.count()).select_from(BulkAction)).one() == 0
        assert ledger.verify(session).ok


def test_a_bulk_sale_waits_for_a_second_person_and_runs_when_they_approve(db, settings, staff):
    batch, _cards = make_batch(db, quantity=1_500, now=now())
    make_reseller(db, deposit_minor=2_000_000, now=now())
    token = enter(staff, db, settings, "fay", "finance")
    asked = staff.post(f"/admin/vouchers/batches/{batch.id}/actions", data={
        "action": "sell", "serial_from": str(batch.serial_from), "serial_to": str(batch.serial_to),
        "reseller": "TABAC-RIVOLI", "reason": "order 2027-14", "csrf_token": token})
    assert asked.headers["location"] == f"/admin/vouchers/batches/{batch.id}?done=pending"
    assert "this action now waits for another staff member's approval" in page_text(staff.get(asked.headers["location"]))
    assert states(db, batch) == {"generated": 1_500} and float_of(db) == 2_000_000
    with db.transaction(write=False) as session:
        [action] = vouchers.pending_actions(session)
    queue = staff.get("/admin/vouchers/actions").text
    assert f'id="action-{action.id}"' in queue and f'/admin/vouchers/actions/{action.id}/approve' not in queue
    assert "You asked for this action: another staff member must approve it." in page_text(staff.get(
        "/admin/vouchers/actions"))

    same = staff.post(f"/admin/vouchers/actions/{action.id}/approve?lang=fr", data={"csrf_token": token})
    assert same.status_code == 409
    assert ("Un autre membre du personnel doit l’approuver\u00a0: qui a demandé une action ne peut pas l’approuver "
            "aussi.") in page_text(same)
    assert states(db, batch) == {"generated": 1_500} and float_of(db) == 2_000_000
    assert audit(db, "voucher.sell.approve") == []

    token = enter(staff, db, settings, "gus", "admin")
    approved = staff.post(f"/admin/vouchers/actions/{action.id}/approve", data={"csrf_token": token})
    assert approved.headers["location"] == "/admin/vouchers/actions?done=approved&num=1500"
    assert "Approved: the action ran and 1,500 cards changed state." in page_text(staff.get(approved.headers["location"]))
    assert states(db, batch) == {"active": 1_500}
    assert float_of(db) == 2_000_000 - 1_425_000  # 1,500 × 10.00 EUR less the 5 % discount
    assert [e.actor for e in audit(db, "voucher.sell.request")] == ["staff:fay"]
    assert [e.actor for e in audit(db, "voucher.sell.approve")] == ["staff:gus"]
    assert [e.actor for e in audit(db, "voucher.sell")] == ["staff:gus"]
    again = staff.post(f"/admin/vouchers/actions/{action.id}/approve", data={"csrf_token": token})
    assert again.status_code == 404 and "This action is not waiting for a decision any more." in page_text(again)
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok and vouchers.reconcile(session) == []


def test_a_rejected_bulk_action_leaves_every_card_as_it_was(db, settings, staff):
    batch, _cards = make_batch(db, quantity=1_200, now=now())
    token = enter(staff, db, settings, "fay", "finance")
    staff.post(f"/admin/vouchers/batches/{batch.id}/actions", data={
        "action": "block", "serial_from": str(batch.serial_from), "serial_to": str(batch.serial_from + 1_000),
        "reason": "pallet missing", "csrf_token": token})
    with db.transaction(write=False) as session:
        [action] = vouchers.pending_actions(session)
    token = enter(staff, db, settings, "gus", "admin")
    assert staff.post(f"/admin/vouchers/actions/{action.id}/reject", data={
        "reason": "", "csrf_token": token}).status_code == 422
    rejected = staff.post(f"/admin/vouchers/actions/{action.id}/reject", data={
        "reason": "pallet found", "csrf_token": token})
    assert rejected.headers["location"] == "/admin/vouchers/actions?done=rejected"
    assert states(db, batch) == {"generated": 1_200}
    with db.transaction(write=False) as session:
        done = session.get(BulkAction, action.id)
    assert (done.state, done.decided_by) == ("rejected", "staff:gus")
    [entry] = audit(db, "voucher.block.reject")
    assert entry.reason == "pallet found"
    assert "Rejected: no card changed." in page_text(staff.get(rejected.headers["location"]))


# -- support: "my card did not work" --------------------------------------------------------------------------------

def test_support_sees_a_cards_story_and_the_exact_reason_of_each_failed_try(db, settings, staff):
    make_line(db, msisdn="+33612345678", now=now())
    make_line(db, msisdn="+33699887766", now=now())
    batch, cards = make_batch(db, quantity=3, now=now())
    make_reseller(db, now=now())
    sell(db, serial_from=batch.serial_from, serial_to=batch.serial_to, now=now())
    (used, pin), (blocked, blocked_pin) = cards[0], cards[1]
    redeem(db, pin=pin, msisdn="+33612345678", now=now()).outcome()
    assert redeem(db, pin=pin, msisdn="+33699887766", via="portal", now=now()).failure == "used"
    with db.transaction() as session:
        vouchers.request_action(session, action="block", serial_from=blocked, serial_to=blocked, actor="staff:x",
                                reason="stolen", now=now())
    assert redeem(db, pin=blocked_pin, msisdn="+33699887766", now=now()).failure == "blocked"

    enter(staff, db, settings, "sam", "support")
    card = page_text(staff.get(f"/admin/vouchers/lookup?serial={used}"))
    assert "Redeemed Already redeemed: a PIN works once." in card
    assert "Redeemed by +336******78" in card and "Redeemed through JSON API" in card
    assert "Reseller TABAC-RIVOLI — TABAC-RIVOLI (test)" in card
    assert f"{batch.serial_from}–{batch.serial_to}" in card
    # The failed try that matched this card: the other number, masked, and the exact reason.
    assert "+336******66 Already redeemed web portal 127.0.0.1" in card
    assert "Blocked (stolen or lost stock)" in page_text(staff.get(f"/admin/vouchers/lookup?serial={blocked}"))

    assert 'href="/admin/vouchers/lookup?msisdn=%2B33699887766"' in staff.get("/admin/lines/%2B33699887766").text
    number = page_text(staff.get("/admin/vouchers/lookup?msisdn=06 99 88 77 66"))
    assert "+33 6 99 88 77 66" in number and "Not locked" in number
    assert re.search(rf"Blocked card {blocked} JSON API .*Already redeemed {used} web portal", number)

    missing = staff.get("/admin/vouchers/lookup?serial=999")
    assert missing.status_code == 404 and "No card has this serial number." in page_text(missing)
    bad = staff.get("/admin/vouchers/lookup?msisdn=not-a-number")
    assert bad.status_code == 422 and "This is not a valid mobile number." in page_text(bad)
    chinese = page_text(staff.get(f"/admin/vouchers/lookup?serial={used}&lang=zh_CN"))
    assert "已充值 已被使用：每个充值密码只能使用一次。" in chinese and "+336******66 已被充值使用 网站 127.0.0.1" in chinese


def test_a_locked_number_says_until_when(db, settings, staff):
    make_line(db, msisdn="+33612345678", now=now())
    for _ in range(settings.voucher_failures_per_number):
        assert redeem(db, pin=pins.new_pin(), now=now()).failure == "unknown"
    enter(staff, db, settings, "sam", "support")
    number = page_text(staff.get("/admin/vouchers/lookup?msisdn=%2B33612345678"))
    assert "Locked: no recharge card can be redeemed on this number until" in number
    assert number.count("No card has this PIN") == settings.voucher_failures_per_number


def test_the_batch_report_shows_each_state_and_its_money_and_balances(db, settings, staff):
    make_line(db, now=now())
    batch, cards = make_batch(db, quantity=10, now=now())
    make_reseller(db, now=now())
    sell(db, serial_from=batch.serial_from, serial_to=batch.serial_from + 5, now=now())
    redeem(db, pin=cards[0][1], now=now()).outcome()
    enter(staff, db, settings, "fay", "finance")
    report = page_text(staff.get(f"/admin/vouchers/batches/{batch.id}"))
    for row in ("Made 10 €100.00", "Sold to resellers 6 €60.00", "Made, not sold 4 €40.00",
                "Sold, can be redeemed 5 €50.00", "Redeemed 1 €10.00", "Blocked 0 €0.00", "Expired 0 €0.00",
                "Sold: the liability taken on €60.00", "Redeemed: credit given to lines €10.00",
                "Outstanding: sold, not yet redeemed €50.00", "Breakage: sold, then expired €0.00",
                "Resellers' commission €3.00", "It balances"):
        assert row in report, row


def test_no_pin_is_on_any_page(db, settings, staff):
    batch, cards = make_batch(db, quantity=5, now=now())
    enter(staff, db, settings, "fay", "finance")
    seen = "".join(staff.get(path).text for path in (*PAGES, f"/admin/vouchers/batches/{batch.id}",
                                                       f"/admin/vouchers/lookup?serial={batch.serial_from}"))
    assert not [pin for _serial, pin in cards if pin in seen or pins.grouped(pin) in seen]
    assert KEYS.hash(cards[0][1]).hex() not in seen
