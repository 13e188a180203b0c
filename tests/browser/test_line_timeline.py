"""The back office on a phone: find a line from the search box, read its timeline, add a note; nothing scrolls
sideways (French has the longest strings)."""

from __future__ import annotations

from simkeep.core import clock
from simkeep.line import service as lines
from tests.browser.conftest import MSISDN
from tests.factories.lines import top_up
from tests.factories.staff import make_staff, sign_in_page

# Wider than the screen, outside the boxes that scroll sideways on purpose (scroll_region: wide tables).
OVERFLOW = """(width) => [document.documentElement.scrollWidth,
  [...document.querySelectorAll('body *')].filter(e => !e.closest('.table-wrap'))
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') + ' ' + (e.getAttribute('href') || '')).slice(0, 8)]"""


def fits(page) -> list:
    width = page.viewport_size["width"]
    scroll_width, culprits = page.evaluate(OVERFLOW, width)
    return [] if scroll_width <= width else [f"{scroll_width} px wide for {width} px", *culprits]


def test_support_finds_a_line_reads_its_timeline_and_adds_a_note_on_a_phone(open_page, portal):
    line = portal.line(language="fr")
    top_up(portal.db, msisdn=MSISDN, now=clock.now())
    sam = make_staff(portal.db, portal.settings, username="sam", role="support")
    page = open_page("fr")
    sign_in_page(page, portal.base, portal.db, sam)
    page.goto(portal.url("/admin/review"))
    page.fill("#line-q", "06 12 34 56 78")
    page.locator("form.line-search button").click()
    page.wait_for_url(portal.url(f"/admin/lines/id/{line.id}"))
    assert page.locator("#timeline-items li.event").evaluate_all("items => items.map(i => i.dataset.kind)") == [
        "topup", "message", "state"]
    assert fits(page) == []
    page.fill("#note", "Rappelé : à l’étranger jusqu’en mai.")
    page.locator("#note-form button").click()
    page.wait_for_url(portal.url(f"/admin/lines/id/{line.id}?done=note#actions"))
    assert page.locator("#actions [role=status]").inner_text() == "Note ajoutée."
    assert page.locator("#timeline-items li.event").first.get_attribute("data-kind") == "staff_action"
    assert page.locator("#timeline-items q.note").inner_text() == "Rappelé : à l’étranger jusqu’en mai."
    page.locator('nav.chips a[data-kind="note"]').click()
    page.wait_for_url(portal.url(f"/admin/lines/id/{line.id}?kind=note#timeline"))
    assert page.locator("#timeline-items li.event").count() == 1
    assert fits(page) == []
    with portal.db.transaction(write=False) as session:
        assert [n.author for n in lines.notes(session, line.id)] == ["staff:sam"]
