"""The back office's line search, timeline page and the actions on it, through the real pages and roles."""

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from simkeep.audit.models import AuditEntry
from simkeep.line import service as lines
from simkeep.line.models import LineNote
from simkeep.main import create_app
from simkeep.notification.models import OutboxMessage
from simkeep.payment.models import Refund
from tests.factories.lines import make_line, top_up, view
from tests.factories.payments import SECRET, now, paid
from tests.factories.staff import csrf_of, make_staff, sign_in

MSISDN = "+33612345678"
PARIS = ZoneInfo("Europe/Paris")  # the operator's zone: a pause lasts until the start of a local day


@pytest.fixture
def staff(db, settings):
    cfg = settings.model_copy(update={"sandbox_webhook_secret": SECRET})
    with TestClient(create_app(cfg, db), follow_redirects=False) as client:
        yield client, cfg


def as_role(client, db, cfg, role: str):
    client.cookies.clear()
    sign_in(client, db, make_staff(db, cfg, username=f"{role}-x", role=role))


def page_of(client, line_id) -> str:
    return html.unescape(client.get(f"/admin/lines/id/{line_id}").text)


def post(client, line_id, action: str, **data):
    token = csrf_of(client.get("/admin/account").text)  # the session's token: a role without the forms posts anyway
    return client.post(f"/admin/lines/id/{line_id}/{action}", data={**data, "csrf_token": token})


def count(db, model, *where) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def audit_rows(db, line_id) -> list[tuple]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.subject_id == str(line_id))
                               .order_by(AuditEntry.at, AuditEntry.id))
        return [(e.actor, e.action, e.subject_type, e.reason) for e in rows]


# -- search -----------------------------------------------------------------------------------------------------------

def test_one_line_found_opens_its_timeline_several_are_listed_none_says_what_was_searched(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    as_role(client, db, cfg, "support")
    answer = client.get("/admin/lines", params={"q": "06 12 34 56 78"})
    assert (answer.status_code, answer.headers["location"]) == (303, f"/admin/lines/id/{line.id}")
    other = make_line(db, msisdn="+33611111111", now=now())
    with db.transaction() as session:
        lines.get_line(session, line.id).email = "li.wei@example.org"
        lines.get_line(session, other.id).email = "LI.WEI@example.org"
    listed = client.get("/admin/lines", params={"q": "Li.Wei@Example.org"})
    assert listed.status_code == 200
    rows = re.findall(r'<a href="/admin/lines/id/([0-9a-f-]+)">([^<]+)</a>', listed.text)
    assert rows == [(str(other.id), "+336******11"), (str(line.id), "+336******78")]
    none = client.get("/admin/lines", params={"q": "+33699999999"})
    assert none.status_code == 404
    assert ("No line found for “+33699999999”. Searched as: phone number, payment reference."
            in html.unescape(none.text))
    french = html.unescape(client.get("/admin/lines", params={"q": "nobody@example.org", "lang": "fr"}).text)
    assert "Aucune ligne trouvée pour «\u00a0nobody@example.org\u00a0». Recherche en tant que\u00a0: e-mail." in french
    assert client.get("/admin/lines").status_code == 200


def test_the_search_box_is_on_the_review_queue_and_the_line_page(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    as_role(client, db, cfg, "support")
    for path in ("/admin/review", f"/admin/lines/id/{line.id}", f"/admin/lines/{MSISDN}"):
        assert '<form method="get" action="/admin/lines" class="line-search" role="search">' in client.get(path).text


def test_a_role_without_lines_read_gets_403_on_search_and_timeline(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    as_role(client, db, cfg, "dpo")
    for path in ("/admin/lines?q=0612345678", f"/admin/lines/id/{line.id}", f"/admin/lines/{MSISDN}"):
        assert client.get(path).status_code == 403


# -- the timeline page ------------------------------------------------------------------------------------------------

def test_the_timeline_page_lists_the_lines_items_and_filters_them_by_kind(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    top_up(db, now=now())
    as_role(client, db, cfg, "finance")
    page = page_of(client, line.id)
    assert re.findall(r'<li class="event kind-(\w+)"', page) == ["topup", "message", "state"]
    assert "Top-up of €10.00 by api" in page
    only = html.unescape(client.get(f"/admin/lines/id/{line.id}", params={"kind": "state"}).text)
    assert re.findall(r'<li class="event kind-(\w+)"', only) == ["state"]
    assert page_of(client, line.id).count("<li class=\"event") == 3
    by_number = html.unescape(client.get(f"/admin/lines/{MSISDN}").text)
    assert re.findall(r'<li class="event kind-(\w+)"', by_number) == ["topup", "message", "state"]
    assert client.get(f"/admin/lines/id/{line.id}", params={"before": "nonsense"}).status_code == 400
    assert client.get("/admin/lines/id/01a22d58-7366-71d8-beb9-bf5360dc705b").status_code == 404


def test_older_items_are_a_link_away(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    for _ in range(30):
        top_up(db, now=now())
    as_role(client, db, cfg, "support")
    page = client.get(f"/admin/lines/id/{line.id}").text
    kinds = re.findall(r'<li class="event kind-(\w+)"', page)
    older = html.unescape(re.search(r'id="older" href="\?([^"#]+)#timeline"', page).group(1))
    rest = client.get(f"/admin/lines/id/{line.id}?{older}").text
    assert len(kinds) == 50 and 'id="older"' not in rest
    assert kinds + re.findall(r'<li class="event kind-(\w+)"', rest) == ["topup", "message"] * 30 + ["state"]


# -- actions ----------------------------------------------------------------------------------------------------------

def test_support_adds_a_note_kept_as_written_and_audited(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    as_role(client, db, cfg, "support")
    assert 'id="note-form"' in page_of(client, line.id)
    answer = post(client, line.id, "note", note="  Called: abroad until May. <b>bold</b>  ")
    assert answer.headers["location"] == f"/admin/lines/id/{line.id}?done=note#actions"
    with db.transaction(write=False) as session:
        (note,) = session.scalars(select(LineNote)).all()
    assert (note.line_id, note.author, note.text) == (line.id, "staff:support-x", "Called: abroad until May. <b>bold</b>")
    assert audit_rows(db, line.id) == [("staff:support-x", "line.note_added", "line", "staff note on the line")]
    page = client.get(f"/admin/lines/id/{line.id}?done=note").text
    assert "Note added." in page and "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
    for bad in ("   ", "x" * 2001):
        refused = post(client, line.id, "note", note=bad)
        assert refused.headers["location"] == f"/admin/lines/id/{line.id}?error=line_note_invalid#actions"
    assert count(db, LineNote) == 1 and len(audit_rows(db, line.id)) == 1


def test_finance_sees_no_note_form_and_gets_403_posting_one(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    as_role(client, db, cfg, "finance")
    page = page_of(client, line.id)
    assert 'id="note-form"' not in page and 'id="pause-form"' not in page and 'id="resend-form"' not in page
    assert post(client, line.id, "note", note="hello").status_code == 403
    assert post(client, line.id, "pause", until="2030-01-01", reason="x").status_code == 403
    assert count(db, LineNote) == 0 and audit_rows(db, line.id) == []


def test_support_sends_a_confirmation_again_once_per_form(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    topup = top_up(db, now=now()).topup
    as_role(client, db, cfg, "support")
    page = page_of(client, line.id)
    key = re.search(r'id="resend-form".*?name="key" value="([^"]+)"', page, re.S).group(1)
    for _ in range(2):  # a double submit
        answer = post(client, line.id, "resend", topup_id=str(topup.id), channel="sms", reason="customer lost it",
                      key=key)
        assert answer.headers["location"] == f"/admin/lines/id/{line.id}?done=resent#actions"
    with db.transaction(write=False) as session:
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "topup.completed",
                                                           OutboxMessage.channel == "sms")
                               .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
    assert [m.dedup_key for m in sent] == [f"topup.completed:{topup.id}",
                                           f"topup.completed:{topup.id}:resend:{key}:sms"]
    assert (sent[1].recipient, sent[1].payload, sent[1].line_id) == (MSISDN, sent[0].payload, line.id)
    assert audit_rows(db, line.id) == [("staff:support-x", "line.confirmation_resent", "line", "customer lost it")] * 2
    before = count(db, OutboxMessage)
    no_email = post(client, line.id, "resend", topup_id=str(topup.id), channel="email", reason="x", key="k2")
    no_reason = post(client, line.id, "resend", topup_id=str(topup.id), channel="sms", reason=" ", key="k3")
    other_line = make_line(db, msisdn="+33611111111", now=now())
    not_its = post(client, other_line.id, "resend", topup_id=str(topup.id), channel="sms", reason="x", key="k4")
    assert no_email.headers["location"].endswith("?error=resend_channel_invalid#actions")
    assert no_reason.headers["location"].endswith("?error=reason_required#actions")
    assert not_its.headers["location"].endswith("?error=confirmation_not_found#actions")
    assert count(db, OutboxMessage) == before and len(audit_rows(db, line.id)) == 2


def test_support_pauses_and_resumes_reminders_with_a_reason(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    as_role(client, db, cfg, "support")
    day = (now() + timedelta(days=10)).date()
    answer = post(client, line.id, "pause", until=day.isoformat(), reason="abroad")
    assert answer.headers["location"] == f"/admin/lines/id/{line.id}?done=paused#actions"
    paused_until = view(db).line.reminders_paused_until
    assert paused_until is not None and paused_until.astimezone(PARIS).date() == day
    page = page_of(client, line.id)
    assert 'id="resume-form"' in page and 'id="pause-form"' not in page and "Paused" in page
    past = post(client, line.id, "pause", until="2020-01-01", reason="abroad")
    assert past.headers["location"].endswith("?error=reminder_pause_invalid#actions")
    assert view(db).line.reminders_paused_until == paused_until
    resumed = post(client, line.id, "resume", reason="back home")
    assert resumed.headers["location"] == f"/admin/lines/id/{line.id}?done=resumed#actions"
    assert view(db).line.reminders_paused_until is None
    assert [row[1:] for row in audit_rows(db, line.id)] == [
        ("line.reminders_paused", "line", "abroad"), ("line.reminders_resumed", "line", "back home")]
    again = post(client, line.id, "resume", reason="again")
    assert again.headers["location"].endswith("?error=reminder_pause_invalid#actions")
    assert len(audit_rows(db, line.id)) == 2


def test_finance_refunds_a_paid_top_up_from_the_timeline_and_support_cannot(db, staff):
    client, cfg = staff
    line = make_line(db, now=now())
    attempt_id = paid(db, cfg, key="ok")
    as_role(client, db, cfg, "support")
    assert 'id="refund-form"' not in page_of(client, line.id)
    assert post(client, line.id, "refund", attempt_id=str(attempt_id), amount="2.00", reason="x").status_code == 403
    assert count(db, Refund) == 0
    as_role(client, db, cfg, "finance")
    page = page_of(client, line.id)
    key = re.search(r'id="refund-form".*?name="key" value="([^"]+)"', page, re.S).group(1)
    balance = view(db).balance.minor
    for bad, code in (("abc", "invalid_amount"), ("0", "invalid_amount"), ("10.001", "invalid_amount"),
                      ("10.01", "refund_not_allowed")):
        refused = post(client, line.id, "refund", attempt_id=str(attempt_id), amount=bad, reason="x", key=f"k-{code}")
        assert refused.headers["location"].endswith(f"?error={code}#actions"), bad
    assert count(db, Refund) == 0 and view(db).balance.minor == balance
    answer = post(client, line.id, "refund", attempt_id=str(attempt_id), amount="2,00", reason="asked by phone",
                  key=key)
    assert answer.headers["location"] == f"/admin/lines/id/{line.id}?done=refunded#actions"
    with db.transaction(write=False) as session:
        (refund,) = session.scalars(select(Refund)).all()
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.subject_id == str(attempt_id))).all()
    assert (refund.amount_minor, refund.status, refund.actor) == (200, "succeeded", "staff:finance-x")
    assert (entry.action, entry.actor, entry.reason) == ("refund.requested", "staff:finance-x", "asked by phone")
    assert view(db).balance.minor == balance - 200
    kinds = re.findall(r'<li class="event kind-(\w+)"', client.get(f"/admin/lines/id/{line.id}").text)
    assert kinds[:3] == ["message", "staff_action", "refund"]  # the refund SMS once the provider said yes
