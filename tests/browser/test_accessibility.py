"""axe-core on every page, in 中文, français and English: no serious or critical accessibility violation (axe.py
says where axe-core comes from and how it runs under the pages' Content-Security-Policy).

"Every page" is checked, not hoped for: the test records every template the server renders during the tour and
fails when a page template was never shown, so a new page cannot be left out. Left out on purpose: /docs
(Swagger UI, a vendored third-party page) and the receipt PDF (a PDF, checked for tags in tests/receipt).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import pytest
from playwright.sync_api import Page

from simkeep.core import clock
from simkeep.demo import seed_demo_stores
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import service as lines
from simkeep.network import esim as esims
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.tasks import process_inbox
from simkeep.plan import autorenew
from simkeep.plan.autorenew_tasks import run_autorenew
from simkeep.receipt import service as receipts
from simkeep.store import esim as giving
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from tests.browser import journey as j
from tests.browser.axe import violations
from tests.browser.conftest import MSISDN, Portal
from tests.factories.counter import make_store_person
from tests.factories.lines import make_line
from tests.factories.payments import checkout, deliver, now, pay
from tests.factories.promotions import make_promotion
from tests.factories.staff import make_staff, next_code, sign_in_page
from tests.factories.stores import make_store, open_drawer, seller
from tests.factories.stores import sell as sell_at_counter
from tests.factories.stores import seller as counter_seller
from tests.factories.vouchers import OFFER, make_batch, make_reseller, redeem, sell, sold_cards
from tests.network.esim_factory import stock as esim_stock
from tests.network.test_inventory import iccid as sim_iccid
from tests.network.test_inventory import imsi as sim_imsi
from tests.payment.sepa.statements import Credit, statement

TEMPLATES = Path(__file__).parents[2] / "src/simkeep/web/templates"
# The frame of every page; the receipt PDFs, A4 and the 80 mm roll (tagged, tests/receipt); the sheet of recharge
# cards (a PDF to print and cut, tests/voucher/test_export.py).
NOT_PAGES = {"base.html", "receipt/pdf.html", "receipt/thermal/pdf.html", "voucher/pdf.html",
             "counter/drawer_z_pdf.html", "admin/store_statement_pdf.html"}
IN_REVIEW = "+33698765432"
LOCKED = "+33687654321"  # five wrong card PINs: locked for cards
RESELLER = "TABAC-PARTNER"  # the reseller tour's own (the portal tour's cards come from the default one)
CARD_HOLDER = "+33611112222"  # redeems a recharge card in the back-office tour


def page_templates() -> set[str]:
    """Every template that is a page of its own (partials start with an underscore)."""
    return {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")
            if not p.name.startswith("_")} - NOT_PAGES


class Audit:
    """Runs axe on the page in view and keeps what it finds, by page name, so one run reports every page."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = {}

    def check(self, page: Page, name: str) -> None:
        found = violations(page)
        if found:
            self.problems[name] = found

    def visit(self, page: Page, url: str, name: str) -> None:
        page.goto(url)
        self.check(page, name)


@pytest.fixture
def rendered(monkeypatch) -> set[str]:
    """Names of the templates the server renders (it runs in this process, in the test's uvicorn thread)."""
    names: set[str] = set()
    original = jinja2.Environment.get_template

    def recording(self, name, *args, **kwargs):
        names.add(str(name))
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "get_template", recording)
    return names


def payment_in_review(portal: Portal) -> None:
    """A card payment for a line deactivated meanwhile: money taken, nothing to credit, a person decides."""
    line = make_line(portal.db, msisdn=IN_REVIEW, now=now())
    attempt_id, ref = checkout(portal.db, portal.settings, msisdn=IN_REVIEW, key="review-1")
    event = pay(portal.db, ref)
    run_sweep(portal.db, now=line.number_loss_at)
    deliver(portal.db, portal.settings, event)
    process_inbox(portal.db, portal.settings)
    with portal.db.transaction(write=False) as session:
        assert session.get(PaymentAttempt, attempt_id).status == "review"


def recharge_cards(portal: Portal) -> list[tuple[int, str]]:
    """Two sold cards; and a number whose wrong PINs have locked it."""
    make_line(portal.db, msisdn=LOCKED, now=now())
    make_reseller(portal.db, now=now())
    for _ in range(portal.settings.voucher_failures_per_number):
        assert redeem(portal.db, pin=pins.new_pin(), msisdn=LOCKED, now=now()).failure == "unknown"
    return sold_cards(portal.db, quantity=2, now=now())


def set_next_action(portal: Portal, attempt_id: uuid.UUID, action: dict) -> str:
    """The attempt now waits on `action`, as the other providers' answers set it (SEPA's transfer details, WeChat
    Pay's QR code through Stripe, the card form of Stripe.js); returns the page that shows it."""
    with portal.db.transaction() as session:
        attempt = session.get(PaymentAttempt, attempt_id)
        attempt.status, attempt.next_action = "pending", action
    return portal.url(f"/pay/{attempt_id}/action")


def portal_tour(page: Page, portal: Portal, lang: str, audit: Audit) -> None:
    for path, name in (("/", "home"), ("/stores", "stores"), ("/signin", "sign-in"), ("/lines/add", "add a line"),
                       ("/no-such-page", "not found"), ("/receipts/not-a-token", "receipt not genuine"),
                       ("/pay/not-an-attempt", "payment not found"), ("/offline", "offline, nothing kept")):
        audit.visit(page, portal.url(path), name)
    # The store finder with results, its map drawn offline, and with none.
    seed_demo_stores(portal.db)
    audit.visit(page, portal.url("/stores?q=75013"), "stores: found, with the map")
    page.locator("#store-map[data-ready=true]").wait_for()
    audit.check(page, "stores: the map drawn")
    audit.visit(page, portal.url("/stores?q=Quimper"), "stores: none found")
    # The wizard, without signing in: a declined card, then 3-D Secure, then WeChat Pay and a bank transfer.
    j.open_offers(page, portal)
    audit.check(page, "wizard: offer")
    j.choose_offer(page)
    audit.check(page, "wizard: number")
    page.locator("#msisdn").fill("not a number")
    page.locator('form[action="/recharge/number"] button[type="submit"]').click()
    audit.check(page, "wizard: number refused")
    j.give_number(page, j.TYPED[lang])
    audit.check(page, "wizard: method")
    j.choose_method(page, "card")
    audit.check(page, "wizard: summary")
    j.confirm(page)
    audit.check(page, "sandbox: card")
    j.pay_by_card(page, j.DECLINE)
    j.wait_outcome(page, "failed")
    audit.check(page, "result: declined")
    j.to_summary(page, portal, lang=lang, method="card")
    j.confirm(page)
    j.pay_by_card(page, j.CHALLENGE)
    page.wait_for_url(re.compile(r"/sandbox/3ds/"))
    audit.check(page, "sandbox: 3-D Secure")
    j.sandbox_action(page, "authenticate")
    j.wait_outcome(page, "succeeded")
    audit.check(page, "result: paid")
    for method in ("wechat_pay", "paypal", "bank_transfer"):
        j.to_summary(page, portal, lang=lang, method=method)
        j.confirm(page)
        audit.check(page, f"sandbox: {method}")
    j.sandbox_action(page, "cancel")  # the bank transfer: back on the result page, cancelled
    page.wait_for_url(re.compile(r"/pay/[0-9a-f-]{36}$"))
    audit.check(page, "result: cancelled")
    # What the other providers ask of the payer, rendered by simkeep on /pay/<id>/action.
    bank = {"type": "bank_transfer", "amount_minor": 1000, "currency": "EUR", "creditor": "Opérateur SAS",
            "iban": "FR1420041010050500013M02606", "bic": "PSSTFRPPLIL", "reference": "RF18539007547034"}
    qr = {"type": "qr", "method": "wechat_pay", "qr_data": "weixin://wxpay/test",
          "image": "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/%3E"}
    card = {"type": "stripe_js", "client_secret": "pi_1_secret_2", "publishable_key": "pk_test_1",
            "js_url": portal.url("/static/no-stripe-here.js"), "return_url": page.url, "locale": "auto"}
    attempt_id = uuid.UUID(page.url.rsplit("/", 1)[1])
    for action, name in ((bank, "bank transfer details"), (qr, "QR code"), (card, "card form, Stripe unreachable")):
        audit.visit(page, set_next_action(portal, attempt_id, action), f"provider page: {name}")
    # A recharge card: the form from the wizard, a wrong PIN, a number locked by wrong PINs, then a good card.
    [(_, good), (_, later)] = recharge_cards(portal)
    j.open_offers(page, portal)
    j.open_card_form(page)
    audit.check(page, "card: form")
    j.type_pin(page, pins.new_pin())
    j.redeem_card(page, typed=j.TYPED[lang])
    audit.check(page, "card: wrong PIN")
    j.type_pin(page, good)
    j.redeem_card(page, typed=LOCKED)
    page.locator("#card-locked").wait_for()
    audit.check(page, "card: number locked")
    j.type_pin(page, good)
    j.redeem_card(page, typed=j.TYPED[lang])
    j.wait_card_result(page)
    audit.check(page, "card: done")
    # Signing in to see the lines: a wrong code first.
    j.ask_code(page, portal, j.TYPED[lang])
    audit.check(page, "code")
    j.give_code(page, "000000")
    audit.check(page, "code: wrong")
    j.give_code(page, portal.sms.code(j.MSISDN))
    page.wait_for_url(portal.url("/lines"))
    audit.check(page, "my lines")
    receipt = page.locator('a[href$=".pdf"]').first.get_attribute("href").removesuffix(".pdf")
    audit.visit(page, portal.url(receipt), "receipt check")
    # The same receipt once its sale is voided (as a store manager's void marks it): the check page says VOID.
    with portal.db.transaction() as session:
        voided = receipts.from_token(session, portal.settings.verifying_keys("receipt"), receipt.rsplit("/", 1)[1])
        receipts.mark_voided(session, voided.id, now=now())
    audit.visit(page, portal.url(receipt), "receipt check: voided")
    audit.visit(page, portal.url("/offline"), "offline, with the last status seen")
    assert page.locator("#last-status").is_visible()
    audit.visit(page, portal.url("/lines/keep?until=2028-06-01"), "keep my number until")
    j.open_offers(page, portal)
    audit.check(page, "wizard: offer, signed in")
    page.goto(portal.url("/lines"))
    page.locator("a.use-card").first.click()
    page.wait_for_url(re.compile(r"/renew/card\?msisdn="))
    j.type_pin(page, later)
    j.redeem_card(page)
    j.wait_card_result(page)
    audit.check(page, "card: done, signed in")
    # Auto-renew: the line's page, a sandbox test card saved, turned on; then the one-tap link of its charge.
    audit.visit(page, portal.url("/lines/auto-renew?msisdn=%2B33612345678"), "auto-renew: off, no card")
    page.locator('form[action="/lines/auto-renew/card"] button[type="submit"]').click()
    page.locator('form[action="/lines/auto-renew/on"] button[type="submit"]').click()
    page.locator("#autorenew-on").wait_for()
    audit.check(page, "auto-renew: on")
    with portal.db.transaction(write=False) as session:
        renewing = lines.find_live_line(session, j.MSISDN)
    run_autorenew(portal.db, portal.settings, now=renewing.validity_ends_at - timedelta(days=2))
    with portal.db.transaction(write=False) as session:
        charge = autorenew.charges_of(session, renewing.id)[0]
    token = autorenew.link_token(portal.settings.key(autorenew.LINK_PURPOSE), charge.id)
    audit.visit(page, portal.url(f"/auto-renew/{token}"), "auto-renew: one-tap link")


def reseller_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """A reseller's own pages: its float, its statement, e-PINs bought (and refused), a line topped up."""
    reseller = make_reseller(portal.db, code=RESELLER, deposit_minor=100_000, now=now())
    person = make_staff(portal.db, portal.settings, username="tabac", role="reseller", reseller_id=reseller.id)
    page.goto(portal.url("/admin"))
    page.fill("#username", person.username)
    page.fill("#password", person.password)
    page.click("button[type=submit]")
    page.wait_for_url(portal.url("/reseller"))
    audit.check(page, "reseller: float")
    audit.visit(page, portal.url("/reseller/statement?from=2027-02-30"), "reseller: statement, not a period")
    audit.visit(page, portal.url("/reseller/epins"), "reseller: e-PINs")
    page.select_option("#offer", OFFER)
    page.fill("#quantity", "1000")  # 1,000 × 9.50 is more than the float holds
    page.click('form[action="/reseller/epins"] button[type=submit]')
    page.locator("[role=alert]").wait_for()
    audit.check(page, "reseller: e-PINs, float too low")
    page.fill("#quantity", "3")
    page.click('form[action="/reseller/epins"] button[type=submit]')
    page.locator("[role=status]").wait_for()
    audit.check(page, "reseller: e-PINs bought")
    audit.visit(page, portal.url("/reseller/topup"), "reseller: top-up")
    page.fill("#msisdn", MSISDN)
    page.select_option("#offer", OFFER)
    page.click('form[action="/reseller/topup"] button[type=submit]')
    page.locator("[role=status]").wait_for()
    audit.check(page, "reseller: line topped up")
    audit.visit(page, portal.url("/reseller"), "reseller: float, with purchases and commissions")
    audit.visit(page, portal.url("/reseller/statement"), "reseller: statement")


def drawer_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """The counter's cash drawer: an agent opens, sells, counts, confirms and reads the Z-report; a wrong count;
    the store manager's drawers and statement. (Finance's statement page is on the back-office tour.)"""
    store = make_store(portal.db, now=now())
    li = make_staff(portal.db, portal.settings, username="li", role="agent", store_id=store.id)
    marie = make_staff(portal.db, portal.settings, username="marie", role="store_manager", store_id=store.id)
    for person in (li, marie):
        page.context.clear_cookies()
        page.goto(portal.url("/admin"))
        page.fill("#username", person.username)
        page.fill("#password", person.password)
        page.click("button[type=submit]")
        # The counter's home exactly: a pattern matching any URL with /counter in it could be met before the
        # sign-in had answered, and the manager's pages below were then never rendered (one CI run in three).
        page.wait_for_url(portal.url("/counter"))
        if person is marie:
            break
        audit.visit(page, portal.url("/counter/drawer"), "drawer: closed")
        page.fill("#float_amount", "1.005")  # a tenth of a cent: the browser lets it through, the server does not
        page.click('form[action="/counter/drawer/open"] button[type=submit]')
        page.locator("[role=alert]").wait_for()
        audit.check(page, "drawer: float refused")
        page.fill("#float_amount", "50.00")
        page.click('form[action="/counter/drawer/open"] button[type=submit]')
        page.locator("[role=status]").wait_for()
        sell_at_counter(portal.db, counter_seller(store, li), now=now())
        page.goto(portal.url("/counter/drawer"))
        audit.check(page, "drawer: open, with a sale")
        page.fill("#counted", "59.50")
        page.click("form.drawer-close button[type=submit]")
        page.locator("#difference").wait_for()
        audit.check(page, "drawer: confirm the close")
        page.click('form[action$="/close/confirm"] button[type=submit]')
        page.wait_for_url(re.compile(r"/z\?done=closed"))
        audit.check(page, "drawer: Z-report")
    sell_at_counter(portal.db, counter_seller(store, marie), method="card",
                    terminal_ref="AUTH 1", now=now())
    audit.visit(page, portal.url("/counter/drawers"), "drawers of the store")
    audit.visit(page, portal.url("/counter/statement"), "store statement (manager)")


def back_office_tour(page: Page, portal: Portal, audit: Audit) -> None:
    audit.visit(page, portal.url("/admin/setup"), "first admin")
    ada = make_staff(portal.db, portal.settings, username="ada", role="admin")
    audit.visit(page, portal.url("/admin"), "staff sign-in")
    page.fill("#username", "ada")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    audit.check(page, "staff sign-in: refused")
    page.fill("#password", ada.password)
    page.click("button[type=submit]")
    page.wait_for_url(portal.url("/admin/totp"))
    audit.check(page, "second step")
    page.fill("#code", next_code(portal.db, ada))
    page.click("button[type=submit]")
    page.wait_for_url(portal.url("/admin/review"))
    audit.check(page, "review queue")
    page.locator('a[href^="/admin/lines/"]').first.click()  # the line of the payment in review
    page.wait_for_url(re.compile(r"/admin/lines/"))
    audit.check(page, "line")
    audit.visit(page, portal.url("/admin/lines?q=nobody%40example.org"), "line search: nothing found")
    audit.visit(page, portal.url("/admin/reconciliation"), "reconciliation")
    page.locator('a[href^="/admin/reconciliation/payments"]').first.click()  # a day's total opens to its payments
    page.wait_for_url(re.compile(r"/admin/reconciliation/payments"))
    audit.check(page, "reconciliation: the payments of a total")
    for path, name in (("/admin/account", "my account"), ("/admin/messages", "message log"),
                       ("/admin/templates", "message templates"),
                       ("/admin/bank/import", "bank import")):
        audit.visit(page, portal.url(path), name)
    page.set_input_files("#file", files=[{"name": "statement.xml", "mimeType": "application/xml",
                                          "buffer": statement("S1", [Credit("B1", "10.00")])}])
    page.click("form[enctype] button[type=submit]")
    page.locator("[role=status]").wait_for()
    audit.check(page, "bank import: done")
    audit.visit(page, portal.url("/admin/bank/review"), "bank review")
    audit.visit(page, portal.url("/admin/resellers"), "resellers")
    page.fill("#code", "EPICERIE-NORD")
    page.fill("#name", "Épicerie du Nord")
    page.fill("#discount", "60")  # refused: the form again, with what is wrong
    page.fill("#reason", "contract signed")
    page.click('form[action="/admin/resellers"] button[type=submit]')
    page.locator("[role=alert]").wait_for()
    audit.check(page, "resellers: new reseller refused")
    audit.visit(page, portal.url(f"/admin/resellers/{RESELLER}"), "reseller")
    partner_tour(page, portal, audit)
    store_tour(page, portal, audit)
    voucher_tour(page, portal, audit)
    promotion_tour(page, portal, audit)
    network_tour(page, portal, audit)
    books_tour(page, portal, audit)
    audit.visit(page, portal.url("/admin/stores/PAR-BELLEVILLE/statement"), "store statement (finance)")
    page.fill("#amount", "0")
    page.fill("#reference", "BANK-1")
    page.fill("#reason", "deposit slip")
    page.click('form[action$="/remittances"] button[type=submit]')
    page.locator("[role=alert]").wait_for()
    audit.check(page, "store statement: remittance refused")
    # An admin without a second factor yet: the enrolment page with its QR code.
    bea = make_staff(portal.db, portal.settings, username="bea", role="admin", totp=False)
    page.context.clear_cookies()
    page.goto(portal.url("/admin"))
    page.fill("#username", bea.username)
    page.fill("#password", bea.password)
    page.click("button[type=submit]")
    page.wait_for_url(portal.url("/admin/totp"))
    audit.check(page, "second step: enrolment")


def partner_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """Cashback partners: the list, a new one with its secret shown once, its monthly statement."""
    audit.visit(page, portal.url("/admin/partners"), "partners")
    code = f"CB-{uuid.uuid4().hex[:8].upper()}"  # one per language's tour
    page.fill("#code", code)
    page.fill("#name", "Cashback France")
    page.fill("#percent", "2.5")
    page.fill("#fixed", "0.30")
    page.fill("#postback_url", "https://partner.example/postback")
    page.fill("#reason", "contract signed")
    page.click('form[action="/admin/partners"] button[type=submit]')
    page.locator("[role=status]").wait_for()
    audit.check(page, "partners: new partner and its secret")
    audit.visit(page, portal.url(f"/admin/partners/{code}/statement"), "partner statement")


def store_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """The store directory's pages, signed in as an admin: the list, a search, a store, a refused new store."""
    seed_demo_stores(portal.db)
    audit.visit(page, portal.url("/admin/stores"), "stores directory")
    audit.visit(page, portal.url("/admin/stores?q=lyon"), "stores directory: a search")
    audit.visit(page, portal.url("/admin/stores/DEMO-PAR-BELLEVILLE"), "store")
    audit.visit(page, portal.url("/admin/stores/new"), "new store")
    for field, value in (("#code", "PAR-NEW"), ("#name", "Tabac Neuf"), ("#address", "1 rue Neuve"),
                         ("#postcode", "75011"), ("#city", "Paris"), ("#longitude", "2.38"), ("#reason", "new"),
                         ("#latitude", "95")):  # refused: the form again, with what is wrong
        page.fill(field, value)
    page.click('form[action="/admin/stores/new"] button[type=submit]')
    page.locator("[role=alert]").wait_for()
    audit.check(page, "new store refused")


def voucher_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """The recharge-card pages, signed in as an admin: a batch made through the form, its report, a bulk action
    another person asked for, and support's lookup of a card with a failed try and of a number. The cards are sold
    to the portal tour's reseller (recharge_cards)."""
    now = clock.now()
    sold, cards = make_batch(portal.db, quantity=3, now=now)
    sell(portal.db, serial_from=sold.serial_from, serial_to=sold.serial_to, now=now)
    portal.line(msisdn=CARD_HOLDER)
    redeem(portal.db, pin=cards[0][1], msisdn=CARD_HOLDER, now=now).outcome()
    assert redeem(portal.db, pin=cards[0][1], msisdn=CARD_HOLDER, via="portal", now=now).failure == "used"
    with portal.db.transaction() as session:
        vouchers.request_action(session, action="block", serial_from=sold.serial_from,
                                serial_to=sold.serial_from + 1_500,
                                actor="staff:bob", reason="pallet missing", now=now)
    audit.visit(page, portal.url("/admin/vouchers"), "vouchers")
    page.select_option("#offer", "fr-orange-mobicarte-10")
    page.fill("#quantity", "12")
    page.fill("#reason", "print run")
    page.click('form[action="/admin/vouchers/batches"] button[type=submit]')
    page.locator('form[action$="/export"]').wait_for()
    audit.check(page, "vouchers: a batch made")
    audit.visit(page, portal.url(f"/admin/vouchers/batches/{sold.id}"), "voucher batch")
    audit.visit(page, portal.url("/admin/vouchers/actions"), "voucher actions")
    audit.visit(page, portal.url("/admin/vouchers/lookup"), "voucher lookup")
    audit.visit(page, portal.url(f"/admin/vouchers/lookup?serial={sold.serial_from}"), "voucher lookup: a card")
    audit.visit(page, portal.url(f"/admin/vouchers/lookup?msisdn=%2B{CARD_HOLDER[1:]}"), "voucher lookup: a number")
    audit.visit(page, portal.url("/admin/vouchers/lookup?serial=1"), "voucher lookup: no such card")


def network_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """The SIM inventory, as an admin: the page, a vendor file refused (its bad rows listed) then imported, a search,
    and a line's card assigned from the line's page (which then offers the swap and lost forms)."""
    base = uuid.uuid4().int % 10**8 * 10  # cards and a number of this language's tour's own
    cards = [(sim_iccid(base + i), sim_imsi(base + i)) for i in range(3)]
    msisdn = f"+336123{base % 10**5:05d}"
    portal.line(msisdn=msisdn)
    audit.visit(page, portal.url("/admin/network"), "network inventory")
    good = "ICCID,IMSI,Ki\n" + "".join(f"{c},{i},00112233445566778899AABBCCDDEEFF\n" for c, i in cards)
    for content, done, name in ((good + f"{cards[0][0]},{sim_imsi(base + 9)},00\n", "[role=alert]", "refused"),
                                (good, "[role=status]", "cards imported")):
        page.select_option("#sims-operator", "fr-orange-mobicarte")
        page.set_input_files("#sims-file", files=[{"name": "vendor.csv", "mimeType": "text/csv",
                                                   "buffer": content.encode()}])
        page.click('form[action="/admin/network/sims/import"] button[type=submit]')
        page.locator(done).wait_for()
        audit.check(page, f"network inventory: a vendor file {name}")
    audit.visit(page, portal.url(f"/admin/network?q={cards[0][0]}"), "network inventory: a search")
    audit.visit(page, portal.url(f"/admin/lines/{msisdn}"), "line: no SIM card yet")
    page.fill("#assign-iccid", cards[0][0])
    page.fill("#assign-reason", "new subscriber")
    page.click('form[action$="/sim"] button[type=submit]')
    page.locator("#sim [role=status]").wait_for()
    audit.check(page, "line: a SIM card assigned")


def promotion_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """Promotions: the empty list, the new-campaign form refused then accepted, the draft's page with who is
    eligible, started, and the list with its bars."""
    audit.visit(page, portal.url("/admin/promotions"), "promotions")
    audit.visit(page, portal.url("/admin/promotions/new"), "new campaign")
    page.fill("#name", "Spring -20%")
    page.fill("#benefit_value", "120")  # refused: the form again, with what is wrong
    page.fill("#starts", "2027-03-01T00:00")
    page.fill("#ends", "2027-04-01T00:00")
    page.fill("#max_uses", "100")
    page.fill("#reason", "spring campaign")
    page.click('form[action="/admin/promotions/new"] button[type=submit]')
    page.locator("[role=alert]").wait_for()
    audit.check(page, "new campaign: refused")
    page.fill("#benefit_value", "20")
    page.click('form[action="/admin/promotions/new"] button[type=submit]')
    page.wait_for_url(re.compile(r"/admin/promotions/[0-9a-f-]{36}\?done=created"))
    audit.check(page, "campaign: a draft")
    page.fill("#state-reason", "approved")
    page.click('button[name=action][value=start]')
    page.wait_for_url(re.compile(r"done=start"))
    audit.check(page, "campaign: started")
    audit.visit(page, portal.url("/admin/promotions"), "promotions: one campaign")


def counter_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """The store counter, as a store manager (who also sees the void form): home, a number not found, a line with
    its ID check, a recommendation and a refused sale, the sale page, the day's sales."""
    store = make_store(portal.db, now=now(), code="PAR-CHATEAU-ROUGE", name="Bazar de Château-Rouge")
    manager = make_staff(portal.db, portal.settings, username="chloe", role="store_manager", store_id=store.id)
    open_drawer(portal.db, seller(store, manager), now=now())
    sign_in_page(page, portal.base, portal.db, manager)
    audit.check(page, "counter")
    page.fill("#msisdn", "+33 6 99 99 99 99")
    page.click("form.counter-find button[type=submit]")
    page.locator("[role=alert]").wait_for()
    audit.check(page, "counter: number not found")
    # Counter-only campaigns: the other tours keep their list prices.
    make_promotion(portal.db, now=now(), name="Printemps -20 %", channels=["agent"])
    make_promotion(portal.db, now=now(), name="+10 jours", benefit="bonus_days", benefit_value=10, stackable=True,
                   channels=["agent"])
    audit.visit(page, portal.url("/counter/lines/%2B33612345678"), "counter: line, offers at quoted prices")
    page.locator("input[name=offer]").first.check()
    page.click('form[action$="/sale"] button[type=submit]')  # the quote first
    page.wait_for_url(re.compile(r"\?quote=[0-9a-f-]{36}#quote$"))
    audit.check(page, "counter: quote with its campaigns")
    page.click("#quote-sell")  # no ID check yet: refused, the quote still shown
    page.locator("[role=alert]").wait_for()
    audit.check(page, "counter: sale refused")
    page.select_option("#document_type", "passport")
    page.select_option("#issuing_country", "CN")
    page.fill("#last4", "1234")
    page.click('form[action$="/id-check"] button[type=submit]')
    page.wait_for_url(re.compile(r"\?done=id$"))
    audit.check(page, "counter: ID checked")
    page.fill("#until", (now() + timedelta(days=400)).date().isoformat())
    page.click('form[method=get][action^="/counter/lines/"] button[type=submit]')
    page.locator("#recommendation").wait_for()
    audit.check(page, "counter: recommendation")
    page.click('form[action$="/sale"] button[type=submit]')
    page.wait_for_url(re.compile(r"\?quote=[0-9a-f-]{36}#quote$"))
    page.click("#quote-sell")
    page.wait_for_url(re.compile(r"/counter/sales/[0-9a-f-]{36}$"))
    audit.check(page, "counter: sale, with the void form")
    audit.visit(page, portal.url("/counter/sales"), "counter: sales")
    audit.visit(page, portal.url("/counter"), "counter: with today's sales")
    # An eSIM given to the line: its QR code on the counter's screen; then the e-mailed link: once, then sign in.
    esim_stock(portal.db, portal.settings, range(1, 2), now=now())
    page.goto(portal.url("/counter/lines/%2B33612345678"))
    page.click('form[action$="/esim"] button[type=submit]')
    page.wait_for_url(re.compile(r"/esim$"))
    audit.check(page, "counter: eSIM QR code")
    with portal.db.transaction(write=False) as session:
        given = esims.of_line(session, lines.find_live_line(session, MSISDN).id)
    link = urlsplit(giving.link_url(portal.settings, given)).path
    audit.visit(page, portal.url(link), "eSIM link: not used yet")
    page.click(f'form[action="{link}"] button[type=submit]')
    page.locator(".esim-qr").wait_for()
    audit.check(page, "eSIM link: the code, once")
    audit.visit(page, portal.url(link), "eSIM link: used, sign in")


def books_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """The morning pages (issue 16): the dashboard's charts and tables, the books, the audit log, personal data and
    the erasure's confirmation step (not confirmed)."""
    audit.visit(page, portal.url("/admin/dashboard?days=30"), "dashboard")
    page.locator(".chart-card .plot canvas").first.wait_for()
    page.locator(".chart-card summary").first.click()  # a chart's numbers as a table
    audit.check(page, "dashboard: a chart as a table")
    audit.visit(page, portal.url("/admin/accounting"), "books")
    audit.visit(page, portal.url("/admin/audit"), "audit log")
    audit.visit(page, portal.url("/admin/privacy"), "personal data")
    page.fill("#erase-msisdn", MSISDN)
    page.fill("#erase-reason", "asked by the subscriber")
    page.click('form[action="/admin/privacy/erase"] button[type=submit]')
    page.wait_for_url(portal.url("/admin/privacy/erase"))
    audit.check(page, "personal data: the erasure's confirmation")


def tablet_tour(page: Page, portal: Portal, audit: Audit) -> None:
    """The counter tablet: not registered yet; a store manager registers it and sets an agent's PIN; the tiles and
    the PIN pad, a wrong PIN."""
    audit.visit(page, portal.url("/counter/signin"), "counter: tablet not registered")
    store = make_store(portal.db, now=now(), code="PAR-REPUBLIQUE", name="Mobile République",
                       latitude=48.8675, longitude=2.3634)
    manager = make_store_person(portal.db, portal.settings, store, username="mia", role="store_manager", now=now())
    make_store_person(portal.db, portal.settings, store, username="wen", now=now())
    page.goto(portal.url("/admin"))
    page.fill("#username", manager.username)
    page.fill("#password", manager.password)
    page.click("button[type=submit]")
    page.wait_for_url(portal.url("/counter"))
    audit.visit(page, portal.url("/counter/devices"), "counter: tablets")
    page.fill("#name", "Counter 1")
    page.click('form[action="/counter/devices"] button[type=submit]')
    page.locator("[role=status]").wait_for()
    audit.check(page, "counter: tablet registered")
    audit.visit(page, portal.url("/counter/team"), "counter: agents and PINs")
    page.locator('form[action="/counter/team/wen/pin"] button[name="generate"]').click()
    page.locator("#generated-pin").wait_for()
    audit.check(page, "counter: a PIN made up")
    page.locator(".switch-agent button").click()
    page.wait_for_url(portal.url("/counter/signin"))
    audit.check(page, "counter: who is at the counter")
    page.locator('a.tile[href="/counter/signin?user=wen"]').click()
    page.locator(".pinpad").wait_for()
    audit.check(page, "counter: PIN pad")
    for digit in "1111":
        page.locator(f'.pinpad button[data-digit="{digit}"]').click()
    page.locator("#pin-ok").click()
    page.locator("[role=alert]").wait_for()
    audit.check(page, "counter: PIN pad, wrong PIN")


@pytest.mark.parametrize("lang", ["zh_CN", "fr", "en"])
def test_no_page_has_a_serious_accessibility_problem(lang, open_page, portal, rendered):
    payment_in_review(portal)
    portal.line(language=lang)
    audit = Audit()
    portal_tour(open_page(lang), portal, lang, audit)
    reseller_tour(open_page(lang), portal, audit)
    drawer_tour(open_page(lang), portal, audit)
    back_office_tour(open_page(lang), portal, audit)
    counter_tour(open_page(lang), portal, audit)
    tablet_tour(open_page(lang, viewport={"width": 768, "height": 1024}), portal, audit)
    assert audit.problems == {}
    assert page_templates() - rendered == set(), "pages never checked: add them to the tour"


def test_every_table_scrolls_in_a_region_the_keyboard_can_reach():
    """A table wider than a phone scrolls sideways; axe sees that only on pages that have enough rows, so the
    templates are checked too: each table sits in `scroll_region` (focusable, named), none in a bare wrapper."""
    bare = {}
    for name in page_templates():
        text = (TEMPLATES / name).read_text("utf-8")
        if text.count("<table") != text.count("{% call scroll_region("):
            bare[name] = text.count("<table")
    assert bare == {}
