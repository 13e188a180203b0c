"""The agent console's pages (/counter): a number looked up, the ID check (its few fields and nothing else), the
recommended offer, sales in cash, by card and with a recharge card to the cent, refusals that move nothing, a store's
walls (another store's sale, the back office, a void by an agent: 403) and a manager's void that restores the line
exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, inspect, select

from simkeep.ledger import service as ledger
from simkeep.ledger.models import JournalEntry
from simkeep.notification.models import OutboxMessage
from simkeep.store import service as stores
from simkeep.store.models import IdCheck, StoreSale
from tests.factories.lines import make_line, view
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, seller
from tests.factories.vouchers import make_reseller, sold_cards
from tests.reseller import csrf, form_key, site_fixture, text_of  # noqa: F401 (the `site` fixture)

NUMBER = "+33612345678"
LINE = "/counter/lines/%2B33612345678"


@dataclass
class Counter:
    site: object
    store: object
    agent: object
    manager: object

    @property
    def db(self):
        return self.site.db


@pytest.fixture
def counter(site) -> Counter:
    now = site.clock()
    make_line(site.db, now=now, language="zh_CN")
    store = make_store(site.db, now=now)
    agent = make_staff(site.db, site.settings, username="li", role="agent", store_id=store.id, now=now)
    manager = make_staff(site.db, site.settings, username="marie", role="store_manager", store_id=store.id, now=now)
    return Counter(site, store, agent, manager)


@dataclass(frozen=True)
class Moved:
    balance: int
    validity: datetime
    entries: int
    sales: int
    outbox: int
    id_checks: int


def moved(db) -> Moved:
    seen = view(db)
    with db.transaction(write=False) as session:
        count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
        return Moved(seen.balance.minor, seen.line.validity_ends_at, count(JournalEntry), count(StoreSale),
                     count(OutboxMessage), count(IdCheck))


def check_id(client, path: str = LINE, **fields):
    page = client.get(path)
    form = {"document_type": "passport", "issuing_country": "CN", "last4": "E123", **fields}
    return client.post(f"{path}/id-check", data={**form, "csrf_token": csrf(page.text)})


def sell_form(client, path: str = LINE, page=None, **fields):
    """The sale as an agent makes it: cash or card first shows the quote (nothing taken), then the quote's own form
    takes exactly its price; a recharge card sells at once. Answers the last response."""
    page = page or client.get(path)
    form = {"offer": "fr-orange-mobicarte-10", "method": "cash", "terminal_ref": "", "pin": "",
            "key": form_key(page.text), **fields}
    first = client.post(f"{path}/sale", data={**form, "csrf_token": csrf(page.text)})
    if form["method"] == "voucher" or "quote" in fields or "?quote=" not in first.headers.get("location", ""):
        return first
    shown = client.get(first.headers["location"])
    return client.post(f"{path}/sale", data={**form, "quote": quote_of(shown.text), "csrf_token": csrf(shown.text)})


def quote_of(page: str) -> str:
    return re.search(r'name="quote" value="([^"]+)"', page).group(1)


def opened(counter: Counter, who=None) -> None:
    open_drawer(counter.db, seller(counter.store, who or counter.agent), float_minor=5_000, now=counter.site.clock())


def test_a_number_typed_any_way_opens_its_line_with_balance_dates_and_renewals(counter):
    client = counter.site.signed_in(counter.agent)
    home = client.get("/counter")
    assert home.status_code == 200
    words = text_of(home.text)
    assert "Signed in as li at Tabac de Belleville." in words
    assert "Not open" in words and 'href="/counter/drawer"' in home.text
    assert "No sale yet today." in words
    found = client.get("/counter", params={"msisdn": "06 12 34 56 78"})
    assert (found.status_code, found.headers["location"]) == (303, LINE)
    page = client.get(LINE)
    words = text_of(page.text)
    assert "Balance €0.00 Valid until March 31, 2027 Number kept until September 27, 2027" in words
    assert "No renewal yet." in words
    assert "Record the ID check first: the sale is refused without it." in words
    assert client.get("/counter/lines/0612345678").headers["location"] == LINE
    unknown = client.get("/counter", params={"msisdn": "+33699999999"}, follow_redirects=True)
    assert unknown.status_code == 404 and "No line has this number." in text_of(unknown.text)
    bad = client.get("/counter", params={"msisdn": "12"})
    assert bad.status_code == 422 and "This is not a valid mobile number." in text_of(bad.text)


def test_the_id_check_stores_its_few_fields_and_a_full_number_is_refused_unseen(counter):
    client = counter.site.signed_in(counter.agent)
    refused = check_id(client, last4="E12345678")
    assert refused.status_code == 422
    assert "Type only the last 4 letters or digits of the document's number" in text_of(refused.text)
    assert "E12345678" not in refused.text
    assert moved(counter.db).id_checks == 0
    for fields in ({"document_type": "selfie"}, {"issuing_country": "ZZ"}):
        assert check_id(client, **fields).status_code == 422
    assert moved(counter.db).id_checks == 0
    done = check_id(client, last4="e1 23")
    assert (done.status_code, done.headers["location"]) == (303, f"{LINE}?done=id")
    with counter.db.transaction(write=False) as session:
        [row] = session.scalars(select(IdCheck)).all()
        stored = {c.key: getattr(row, c.key) for c in inspect(IdCheck).mapper.column_attrs}
    assert {k: v for k, v in stored.items() if k not in ("id", "line_id")} == {
        "store_id": counter.store.id, "document_type": "passport", "issuing_country": "CN", "last4": "E123",
        "checked_by": "staff:li", "checked_at": counter.site.clock()}
    page = text_of(client.get(f"{LINE}?done=id").text)
    assert "ID check recorded." in page
    assert "ID checked at Mar 1, 2027 10:00 AM by li: Passport, CN, ending E123." in page


@pytest.mark.parametrize(("until", "says"), [
    ("2027-10-03", "Cheapest offer that keeps the number beyond October 3, 2027: €5.00 for 7 days — the number is "
                   "then kept until October 4, 2027."),
    ("2027-10-04", "Cheapest offer that keeps the number beyond October 4, 2027: €10.00 for 14 days — the number is "
                   "then kept until October 11, 2027."),
    ("2027-12-31", "Cheapest offer that keeps the number beyond December 31, 2027: €50.00 for 120 days — the number is then kept until January 25, 2028."),
    ("2028-06-01", "No offer keeps the number beyond June 1, 2028: the operator's longest validity does not reach it. "
                   "The one that keeps it longest: €100.00 for 150 days, the number kept until February 24, 2028."),
])
def test_the_recommend_form_names_the_exact_offer_for_a_date(counter, until, says):
    client = counter.site.signed_in(counter.agent)
    page = client.get(LINE, params={"until": until})
    assert page.status_code == 200
    assert says in text_of(page.text), text_of(page.text)[-1500:]


def test_a_past_date_gets_a_clear_message(counter):
    page = counter.site.signed_in(counter.agent).get(LINE, params={"until": "2027-02-01"})
    assert "Give a date from today on." in text_of(page.text)
    page = counter.site.signed_in(counter.agent).get(LINE, params={"until": "2027-02-31"})
    assert "Give a date from today on." in text_of(page.text)


def test_a_cash_sale_lands_once_and_its_page_shows_the_receipt(counter):
    opened(counter)
    client = counter.site.signed_in(counter.agent)
    check_id(client)
    before = moved(counter.db)
    page = client.get(LINE)
    answer = sell_form(client, page=page)
    assert answer.status_code == 303
    sale_path = answer.headers["location"]
    again = sell_form(client, page=page)  # the same form sent twice: the first sale again
    assert again.headers["location"] == sale_path
    after = moved(counter.db)
    assert (after.balance - before.balance, after.sales - before.sales) == (1000, 1)
    assert after.validity == datetime(2027, 4, 14, 22, 0, tzinfo=UTC)
    shown = client.get(sale_path)
    words = text_of(shown.text)
    assert re.search(r"Receipt FR-ORANGE-MOBICARTE-2027-000001 Number \+33 6 12 34 56 78 Amount €10.00 "
                     r"Paid with Cash Valid until April 14, 2027", words)
    assert "The confirmation SMS with the receipt link is sent to +336******78." in words
    token = re.search(r'href="/receipts/([^"]+)\.pdf\?format=thermal"', shown.text).group(1)
    assert f'href="/receipts/{token}.pdf?format=a4"' in shown.text
    assert 'action="/counter/sales/' not in shown.text  # an agent gets no void form
    with counter.db.transaction(write=False) as session:
        sale = session.scalars(select(StoreSale)).one()
        drawer = stores.open_drawer_of(session, counter.agent.id)
        assert stores.expected_cash(session, drawer) == 6_000
        assert ledger.account_balance(session, counter.store.account_id) == -970
        sms = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "topup.completed")).one()
    assert (sale.method, sale.amount_minor, sale.commission_minor) == ("cash", 1000, 30)
    assert (sms.language, sms.recipient, sms.payload["store"]) == ("zh_CN", NUMBER, "Tabac de Belleville")
    assert sms.payload["receipt_url"].endswith(f"/receipts/{token}")
    history = text_of(client.get("/counter/sales").text)
    assert "FR-ORANGE-MOBICARTE-2027-000001 +33 6 12 34 56 78 €10.00 Cash li 80 mm · A4" in history
    assert "1 sale, €10.00 kept." in text_of(client.get("/counter").text)


def test_a_card_sale_needs_the_terminal_reference_and_a_recharge_card_its_pin(counter):
    site = counter.site
    make_reseller(site.db, now=site.clock())
    [(_, pin)] = sold_cards(site.db, quantity=1, now=site.clock())
    client = site.signed_in(counter.agent)
    check_id(client)
    before = moved(counter.db)
    refused = sell_form(client, method="card", offer="fr-orange-mobicarte-25")
    assert refused.status_code == 422
    assert "Type the card terminal's authorisation reference from its slip." in text_of(refused.text)
    assert moved(counter.db) == before
    card = sell_form(client, method="card", offer="fr-orange-mobicarte-25", terminal_ref="AUTH 4471")
    assert card.status_code == 303
    assert moved(counter.db).balance == before.balance + 3000  # 25.00 and its 5.00 bonus
    wrong = sell_form(client, method="voucher", offer="", pin="1234 5678 9012 34")
    assert wrong.status_code == 422 and "This recharge card PIN cannot be used." in text_of(wrong.text)
    voucher = sell_form(client, method="voucher", offer="", pin=pin)
    assert voucher.status_code == 303
    assert moved(counter.db).balance == before.balance + 4000
    with counter.db.transaction(write=False) as session:
        rows = session.scalars(select(StoreSale).order_by(StoreSale.created_at, StoreSale.method)).all()
        assert ledger.verify(session).ok
    assert [(s.method, s.amount_minor, s.commission_minor, s.terminal_ref) for s in rows] == [
        ("card", 2500, 75, "AUTH 4471"), ("voucher", 1000, 0, None)]
    assert "Recharge card" in text_of(client.get(voucher.headers["location"]).text)


def test_refused_sales_say_why_and_move_nothing(counter):
    client = counter.site.signed_in(counter.agent)
    before = moved(counter.db)
    no_id = sell_form(client)
    assert no_id.status_code == 422
    assert "Check the customer's ID first: a sale needs an ID check of this line in the last 30 minutes." in \
        text_of(no_id.text)
    check_id(client)
    before = moved(counter.db)
    for fields, status, says in (
            ({}, 409, "Open your cash drawer first: cash sales go into it. Nothing was sold."),
            ({"method": "cheque"}, 422, "Choose how the customer pays"),
            ({"offer": ""}, 422, "Choose an offer."),
            ({"offer": "fr-sfr-la-carte-15", "method": "card", "terminal_ref": "A1"}, 422,
             "This store does not sell this operator's renewals.")):
        answer = sell_form(client, **fields)
        assert (answer.status_code, says in text_of(answer.text)) == (status, True), fields
    assert moved(counter.db) == before
    counter.site.clock.advance(minutes=30)  # the ID check is too old now
    opened(counter)
    client = counter.site.signed_in(counter.agent)  # the staff session idled out meanwhile
    before = moved(counter.db)
    late = sell_form(client)
    assert late.status_code == 422 and "Check the customer's ID first" in text_of(late.text)
    assert moved(counter.db) == before


def test_an_agent_sees_nothing_of_another_store_nor_of_the_back_office(counter):
    site = counter.site
    other = make_store(site.db, code="LYON-GUILLOTIERE", now=site.clock())
    jean = make_staff(site.db, site.settings, username="jean", role="agent", store_id=other.id, now=site.clock())
    opened(counter)
    client = site.signed_in(counter.agent)
    check_id(client)
    sale_path = sell_form(client).headers["location"]
    stranger = site.signed_in(jean)
    page = stranger.get(sale_path)
    assert page.status_code == 403 and "This belongs to another store" in text_of(page.text)
    assert "/receipts/" not in page.text
    assert "FR-ORANGE" not in stranger.get("/counter/sales").text
    for path in ("/admin/review", "/admin/reconciliation", "/admin/messages", "/admin/templates",
                 "/admin/resellers", "/admin/vouchers", "/admin/bank/review", "/reseller"):
        assert client.get(path).status_code == 403, path
    assert site.staff("support").get("/counter").status_code == 403
    lyon = site.signed_in(make_staff(site.db, site.settings, username="paul", role="store_manager",
                                     store_id=other.id, now=site.clock()))
    sold = moved(counter.db)
    voided = lyon.post(f"{sale_path}/void", data={"reason": "not ours", "csrf_token": csrf(lyon.get(LINE).text)})
    assert voided.status_code == 403 and moved(counter.db) == sold
    stranger_page = site.client().get("/counter")
    assert (stranger_page.status_code, stranger_page.headers["location"]) == (303, "/counter/signin")


def test_a_void_is_a_managers_and_restores_balance_and_validity_exactly(counter):
    site = counter.site
    opened(counter)
    agent = site.signed_in(counter.agent)
    check_id(agent)
    before = moved(counter.db)
    sale_path = sell_form(agent, offer="fr-orange-mobicarte-25").headers["location"]
    sold = moved(counter.db)
    assert sold.balance == before.balance + 3000
    token = csrf(agent.get(LINE).text)  # the sale page has no form for an agent: the session's token
    refused = agent.post(f"{sale_path}/void", data={"reason": "mistake", "csrf_token": token})
    assert refused.status_code == 403
    assert moved(counter.db) == sold
    manager = site.signed_in(counter.manager)
    site.clock.advance(minutes=5)
    page = manager.get(sale_path)
    assert f'action="{sale_path}/void"' in page.text
    empty = manager.post(f"{sale_path}/void", data={"reason": " ", "csrf_token": csrf(page.text)})
    assert empty.status_code == 422 and "Say why the sale is voided." in text_of(empty.text)
    assert moved(counter.db) == sold
    done = manager.post(f"{sale_path}/void", data={"reason": "wrong number", "csrf_token": csrf(page.text)})
    assert done.headers["location"] == f"{sale_path}?done=voided"
    after = moved(counter.db)
    assert (after.balance, after.validity) == (before.balance, before.validity)
    words = text_of(manager.get(done.headers["location"]).text)
    assert "Sale voided: the credit and the validity it bought are taken back." in words
    assert "Voided at Mar 1, 2027 10:05 AM by marie: wrong number" in words
    with counter.db.transaction(write=False) as session:
        assert ledger.verify(session).ok
        assert ledger.account_balance(session, counter.store.account_id) == 0
    again = manager.post(f"{sale_path}/void", data={"reason": "again", "csrf_token": csrf(page.text)})
    assert again.status_code == 409 and "This sale is already voided." in text_of(again.text)
    assert "Voided" in text_of(manager.get("/counter/sales").text)


def test_a_void_after_the_window_is_refused_and_the_form_is_gone(counter):
    site = counter.site
    opened(counter, counter.manager)
    manager = site.signed_in(counter.manager)
    check_id(manager)
    sale_path = sell_form(manager).headers["location"]
    token = csrf(manager.get(sale_path).text)
    sold = moved(counter.db)
    site.clock.advance(minutes=site.settings.store_void_minutes, seconds=1)
    assert f'action="{sale_path}/void"' not in manager.get(sale_path).text
    late = manager.post(f"{sale_path}/void", data={"reason": "late", "csrf_token": token})
    assert late.status_code == 409 and "This sale is too old to void at the counter." in text_of(late.text)
    assert moved(counter.db) == sold


def test_a_day_that_is_not_a_date_shows_today_and_says_so(counter):
    page = counter.site.signed_in(counter.agent).get("/counter/sales", params={"day": "2027-02-30"})
    assert page.status_code == 422
    words = text_of(page.text)
    assert "This is not a date: today's sales are shown." in words and "Sales of March 1, 2027" in words



def test_the_counter_shows_the_keep_my_number_plan_for_the_date(counter):
    """The plan (plan/) under the one-offer recommendation: Orange Mobicarte, valid until 31 March 2027, then 180
    days receive-only: two 5 € recharges on the last days of grace keep it past June 2028."""
    page = counter.site.signed_in(counter.agent).get(LINE, params={"until": "2028-06-01"})
    words = text_of(page.text)
    assert "The cheapest way to keep the number until that date" in words
    assert "€5.00 on September 27, 2027, €5.00 on April 1, 2028: €10.00 in total." in words, words[-1500:]
