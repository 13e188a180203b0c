"""The review queue in a real browser: a finance member settles every kind of item from the page (credit, dismiss,
refund), in French, and the payer hears about each one by SMS, in the language of their payment."""

from __future__ import annotations

import re

from tests.factories.payments import in_review_amount_differs, in_review_disputed, in_review_line_lost
from tests.factories.staff import make_staff, sign_in_page


def settle(page, portal, attempt_id, decision: str, reason: str, done: str) -> None:
    item = page.locator(f"#payment-{attempt_id}")
    item.locator("label.choice", has=page.locator(f"input[value={decision}]")).click()
    item.locator("input[name=reason]").fill(reason)
    item.locator("button[type=submit]").click()
    page.wait_for_url(portal.url(f"/admin/review?done={done}"))


def test_finance_settles_every_kind_of_review_item_and_the_payer_hears_of_each(open_page, portal):
    portal.line(language="fr")
    with portal.worker.paused():  # the sandbox's own webhooks must not settle them first
        differs = in_review_amount_differs(portal.db, portal.settings)
        disputed = in_review_disputed(portal.db, portal.settings)
    fay = make_staff(portal.db, portal.settings, username="fay", role="finance")
    page = open_page("fr")
    sign_in_page(page, portal.base, portal.db, fay)
    page.goto(portal.url("/admin/review"))
    assert page.locator(f"#payment-{differs}").inner_text().count("Le montant payé diffère de la commande.") == 1
    assert "Le payeur a contesté le paiement auprès de sa banque." in page.locator(f"#payment-{disputed}").inner_text()
    link = page.locator(f"#payment-{differs} h2 a")
    assert link.get_attribute("href") == "/admin/lines/%2B33612345678"

    portal.sms.wait("topup.completed", "+33612345678")  # the disputed payment's, when it was credited
    settle(page, portal, differs, "credit", "montant confirmé par le prestataire", "credit")
    _disputed, confirmation = portal.sms.wait("topup.completed", "+33612345678", count=2)
    assert re.search(r"Justificatif\s: http://127\.0\.0\.1:\d+/receipts/\S+$", confirmation["text"])
    assert portal.view().credit.minor == 2000  # the disputed payment's credit and this one

    settle(page, portal, disputed, "dismiss", "rétrofacturation perdue", "dismiss")
    [dismissed] = portal.sms.wait("review.dismissed", "+33612345678")
    assert dismissed["text"].startswith("Nous avons vérifié votre paiement de 10,00")
    assert portal.view().credit.minor == 1000  # the disputed credit was taken back

    with portal.worker.paused():
        lost = in_review_line_lost(portal.db, portal.settings, key="lost")
    page.goto(portal.url("/admin/review"))
    settle(page, portal, lost, "refund", "ligne perdue, le client demande le remboursement", "refunded")
    [refunded] = portal.sms.wait("review.refunded", "+33612345678")
    assert "il vous a été remboursé" in refunded["text"]
    assert "Rien n’attend de vérification." in page.inner_text("main")

    page.click("main a[href='/admin/reconciliation']")
    page.wait_for_url(portal.url("/admin/reconciliation"))
    page.locator("dd a").first.click()
    page.wait_for_url(re.compile(r".*/admin/reconciliation/payments\?.*"))
    assert page.locator("tbody tr").count() >= 1
