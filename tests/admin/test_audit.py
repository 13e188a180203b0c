"""/admin/audit: who may read it, entries newest first with filters and paging by seq, the verify button's
answers (intact with the head hash, a changed entry named, an anchored head no longer reached), and no route that
changes or removes an entry."""

from __future__ import annotations

from datetime import timedelta

from simkeep.audit import service as audit
from simkeep.main import create_app
from tests.audit.helpers import entries, record_three, tamper
from tests.conftest import T0
from tests.reseller import csrf, site_fixture, text_of  # noqa: F401 (the `site` fixture)


def rows(page: str) -> list[str]:
    """The seq of each entry in the table, top to bottom."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [cell.split("</td>", 1)[0] for cell in body.split("<tr><td>")[1:]]


def verify(client, head: str = ""):
    token = csrf(client.get("/admin/audit").text)
    return client.post("/admin/audit/verify", data={"csrf_token": token, "expect_head": head})


def test_admin_and_finance_read_the_audit_log_support_does_not(site):
    for role in ("admin", "finance"):
        client = site.staff(role)
        assert client.get("/admin/audit").status_code == 200
        assert 'href="/admin/audit"' in client.get("/admin/account").text
    for role in ("support",):
        client = site.staff(role)
        assert client.get("/admin/audit").status_code == 403
        assert client.post("/admin/audit/verify", data={"csrf_token": csrf(client.get("/admin/account").text)}) \
            .status_code == 403
        assert 'href="/admin/audit"' not in client.get("/admin/account").text
    assert site.client().get("/admin/audit").headers["location"] == "/admin"


def test_entries_newest_first_filtered_and_paged_by_seq(site):
    record_three(site.db)
    client = site.staff("finance")  # signing in writes entries too: staff.created, staff.signin
    everything = entries(site.db)
    page = client.get("/admin/audit").text
    assert rows(page) == [str(e.seq) for e in reversed(everything)]
    third = everything[2]
    assert (f"<code title=\"{third.hash}\">{third.hash[:12]}</code>" in page
            and "store: PAR-01" in text_of(page) and "lease ended" in page)
    assert rows(client.get("/admin/audit?actor=staff:bob").text) == ["2"]
    assert rows(client.get("/admin/audit?action=refund").text) == ["1"]
    assert rows(client.get("/admin/audit?subject=PAR-01").text) == ["3"]
    assert "amount_minor=1000, currency=EUR" in client.get("/admin/audit?action=refund").text
    assert rows(client.get("/admin/audit?from=2027-03-02").text) == []
    assert rows(client.get("/admin/audit?from=2027-03-01&to=2027-03-01&action=store").text) == ["3"]
    bad = client.get("/admin/audit?from=yesterday")
    assert bad.status_code == 422 and "Write the days as YYYY-MM-DD" in text_of(bad.text)
    assert client.get("/admin/audit?before=x").status_code == 422


def test_older_entries_follow_the_last_seq_shown(site):
    with site.db.transaction() as session:
        for n in range(60):
            audit.record(session, actor="staff:alice", action="store.updated", subject_type="store",
                         subject_id=f"S{n:02}", reason="moved", now=T0 + timedelta(seconds=n))
    client = site.staff("admin")
    first = client.get("/admin/audit?action=store").text
    assert rows(first) == [str(seq) for seq in range(60, 10, -1)]
    assert 'href="/admin/audit?actor=&amp;action=store&amp;subject=&amp;from=&amp;to=&amp;before=11"' in first
    second = client.get("/admin/audit?action=store&before=11").text
    assert rows(second) == [str(seq) for seq in range(10, 0, -1)] and "Older entries" not in second


def test_verify_says_the_chain_is_intact_and_shows_its_head(site):
    client = site.staff("admin")
    head = entries(site.db)[-1]
    answer = verify(client)
    assert answer.status_code == 200
    assert f"Chain intact: {head.seq} entries checked." in text_of(answer.text) and head.hash in answer.text
    assert "Chain intact" in text_of(verify(client, head.hash.upper()).text)  # any case, as it was copied
    wrong = verify(client, "nope")
    assert wrong.status_code == 422 and "A head hash is 64 characters" in text_of(wrong.text)
    assert client.post("/admin/audit/verify", data={"csrf_token": "forged"}).status_code == 403


def test_verify_names_a_changed_entry_and_a_head_no_longer_reached(site):
    record_three(site.db)
    client = site.staff("admin")
    _, second, third, *_ = entries(site.db)
    tamper(site.db, "UPDATE audit_log SET reason = 'goodwill' WHERE seq = 2")
    broken = text_of(verify(client).text)
    assert ("The chain is broken. Entry 2 was changed after it was written: its content no longer matches its hash."
            in broken and f"id {second.id}" in broken and "Entries checked before the break: 1." in broken)
    tamper(site.db, "UPDATE audit_log SET reason = :reason WHERE seq = 2", reason=second.reason)
    last = entries(site.db)[-1]
    tamper(site.db, "DELETE FROM audit_log WHERE seq = :seq", seq=last.seq)
    assert "The chain is broken. The head hash you gave is no longer in the chain" in text_of(
        verify(client, last.hash).text)
    assert third.hash  # the entries before the removed one still verify
    assert "Chain intact" in text_of(verify(client).text)


def test_the_page_is_translated(site):
    record_three(site.db)
    for lang, title, verified in (("fr", "Journal d'audit", "Chaîne intacte"), ("zh-CN", "审计日志", "链完整")):
        client = site.staff("admin", lang)
        assert title in text_of(client.get("/admin/audit").text)
        assert verified in text_of(verify(client).text)


def test_no_route_changes_or_removes_an_entry(settings, db):
    """Every method of every route under /admin/audit (nested routers walked): reading, and verifying."""
    def walk(routes) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for route in routes:
            if hasattr(route, "original_router"):
                found |= walk(route.original_router.routes)
            elif getattr(route, "path", "").startswith("/admin/audit"):
                found |= {(method, route.path) for method in route.methods}
        return found

    assert walk(create_app(settings, db).routes) == {("GET", "/admin/audit"), ("POST", "/admin/audit/verify")}
