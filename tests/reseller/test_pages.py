"""A reseller's own pages: float, purchases, commissions, statement (page and CSV), e-PINs and top-ups from the float.
Only its own reseller, never another's, never a back-office page, never more of a subscriber than a masked number."""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from simkeep.core.money import Money
from simkeep.reseller import service as resellers
from simkeep.voucher.models import Voucher
from tests.factories.lines import make_line, view
from tests.factories.staff import sign_in
from tests.factories.vouchers import KEYS, OFFER, sell
from tests.factories.vouchers import make_batch as print_batch
from tests.reseller import commission_total, csrf, form_key, moved, site_fixture, text_of  # noqa: F401 (the `site` fixture)
from tests.web.test_page_fuzz import HOSTILE

NUMBER = "+33612345678"
MASKED = "+336******78"


def pins_on(page: str) -> list[tuple[int, str]]:
    """(serial, PIN) as the result page lists them (the PIN grouped for reading)."""
    return [(int(serial), pin.replace(" ", "")) for serial, pin in re.findall(
        r'<tr><td class="reference">(\d+)</td><td class="reference">([\d ]+)</td></tr>', page)]


def csv_on(page: str) -> list[dict]:
    """The CSV the result page offers for download, in that same page (a data: address)."""
    href = html.unescape(re.search(r'href="(data:text/csv;base64,[^"]+)" download="([^"]+)"', page).group(1))
    return list(csv.DictReader(io.StringIO(base64.b64decode(href.split(",", 1)[1]).decode())))


def buy(client, *, quantity: str = "3", offer: str = OFFER, key: str | None = None):
    page = client.get("/reseller/epins").text
    return client.post("/reseller/epins", data={"offer": offer, "quantity": quantity, "csrf_token": csrf(page),
                                                "key": key or form_key(page)})


def top_up(client, *, msisdn: str = "06 12 34 56 78", offer: str = OFFER, key: str | None = None):
    page = client.get("/reseller/topup").text
    return client.post("/reseller/topup", data={"msisdn": msisdn, "offer": offer, "csrf_token": csrf(page),
                                                "key": key or form_key(page)})


# -- who sees what ----------------------------------------------------------------------------------------------------

def test_a_reseller_signs_in_to_its_float(site):
    _, person = site.reseller(deposit_minor=100_000, discount_bp=750)
    client = site.client()
    token = csrf(client.get("/admin").text)
    answer = client.post("/admin", data={"username": person.username, "password": person.password,
                                         "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/reseller"
    home = client.get("/reseller")
    assert home.status_code == 200 and home.headers["cache-control"] == "no-store"
    words = text_of(home.text)
    assert "Signed in as tabac-rivoli for TABAC-RIVOLI (test)." in words
    assert "Float €1,000.00" in words and "Your discount 7.5%" in words
    assert "No purchase yet." in words and "No commission in the last 90 days." in words
    for path in ("/reseller/statement", "/reseller/epins", "/reseller/topup", "/admin/account"):
        assert client.get(path).status_code == 200, path


def test_a_reseller_sees_only_its_own_reseller_and_no_back_office_page(site):
    mine, person = site.reseller("TABAC-RIVOLI", deposit_minor=100_000)
    other, _ = site.reseller("EPICERIE-NORD", deposit_minor=55_500)
    client = site.signed_in(person)
    for path in ("/admin/review", "/admin/resellers", "/admin/resellers/EPICERIE-NORD",
                 "/admin/resellers/TABAC-RIVOLI", "/admin/resellers/EPICERIE-NORD/statement.csv",
                 "/admin/reconciliation", "/admin/messages", "/admin/templates", "/admin/bank/review",
                 f"/admin/lines/{NUMBER}"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "Your role does not allow this." in answer.text
    csrf_token = csrf(client.get("/reseller/epins").text)
    for path, form in (("/admin/resellers", {"code": "MINE", "name": "x", "currency": "EUR", "discount": "40",
                                             "reason": "x"}),
                       ("/admin/resellers/EPICERIE-NORD/deposits", {"amount": "10", "reference": "r", "reason": "x"}),
                       ("/admin/resellers/EPICERIE-NORD/disable", {"reason": "x"})):
        assert client.post(path, data={**form, "csrf_token": csrf_token}).status_code == 403, path
    # No address names another reseller: whatever is asked, the pages are the signed-in account's.
    for path in ("/reseller?code=EPICERIE-NORD", "/reseller/statement?reseller=EPICERIE-NORD"):
        words = text_of(client.get(path).text)
        assert "TABAC-RIVOLI (test)" in words and "EPICERIE-NORD" not in words
    assert "€1,000.00" in text_of(client.get("/reseller").text)
    assert "€555.00" not in text_of(client.get("/reseller").text)
    statement = client.get("/reseller/statement.csv").text
    assert statement.count("\n") == 2 and "1000.00" in statement and "555.00" not in statement
    assert moved(site.db, "EPICERIE-NORD").float_minor == 55_500 and mine.id != other.id


def test_back_office_roles_and_strangers_cannot_use_the_reseller_pages(site):
    site.reseller()
    for role in ("admin", "finance", "support"):
        client = site.staff(role)
        for path in ("/reseller", "/reseller/statement", "/reseller/statement.csv", "/reseller/epins",
                     "/reseller/topup"):
            assert client.get(path).status_code == 403, (role, path)
        page = client.get("/admin/account").text
        assert client.post("/reseller/epins", data={"offer": OFFER, "quantity": "1", "key": "k" * 22,
                                                    "csrf_token": csrf(page)}).status_code == 403
    stranger = site.client()
    for path in ("/reseller", "/reseller/statement.csv", "/reseller/epins", "/reseller/topup"):
        answer = stranger.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/admin", path
    token = csrf(stranger.get("/admin").text)
    assert stranger.post("/reseller/epins", data={"offer": OFFER, "quantity": "1", "csrf_token": token}
                         ).status_code == 401
    assert moved(site.db, "TABAC-RIVOLI").purchases == 0


def test_the_people_of_a_disabled_reseller_are_turned_away(site):
    reseller, person = site.reseller()
    client = site.signed_in(person)
    with site.db.transaction() as session:
        resellers.disable(session, reseller=reseller, actor="staff:alice", reason="contract ended",
                          now=site.clock())
    for path in ("/reseller", "/reseller/statement", "/reseller/statement.csv", "/reseller/epins"):
        answer = client.get(path)
        assert answer.status_code == 403 and "This reseller account is disabled. Ask the operator." in answer.text
    before = moved(site.db, "TABAC-RIVOLI")
    token = csrf(client.get("/admin/account").text)
    refused = client.post("/reseller/epins", data={"offer": OFFER, "quantity": "1", "key": "k" * 22,
                                                   "csrf_token": token})
    assert refused.status_code == 403 and moved(site.db, "TABAC-RIVOLI") == before


# -- e-PINs -----------------------------------------------------------------------------------------------------------

def test_e_pins_bought_on_the_page_are_shown_once_and_a_double_submit_shows_the_same(site):
    _, person = site.reseller(deposit_minor=100_000, discount_bp=500)
    client = site.signed_in(person)
    form = client.get("/reseller/epins")
    assert "Your float: €1,000.00." in text_of(form.text)
    assert "€10.00, 30 days — you pay €9.50" in text_of(form.text)
    key, token = form_key(form.text), csrf(form.text)
    first = client.post("/reseller/epins", data={"offer": OFFER, "quantity": "3", "key": key, "csrf_token": token})
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    words = text_of(first.text)
    assert "3 e-PINs bought." in words
    assert "Face value €30.00 Paid from the float €28.50 Your commission €1.50 Float now €971.50" in words
    cards = pins_on(first.text)
    assert [serial for serial, _ in cards] == [100_000_000_001, 100_000_000_002, 100_000_000_003]
    with site.db.transaction(write=False) as session:
        stored = {v.serial: v for v in session.scalars(select(Voucher))}
    assert {serial: (v.state, v.pin_hash) for serial, v in stored.items()} == {
        serial: ("active", KEYS.hash(pin)) for serial, pin in cards}
    rows = csv_on(first.text)
    assert [(int(r["serial"]), r["pin"], r["offer_id"], r["face_value"], r["currency"]) for r in rows] == [
        (serial, pin, OFFER, "10.00", "EUR") for serial, pin in cards]
    after = moved(site.db, "TABAC-RIVOLI")
    assert (after.float_minor, after.purchases, after.vouchers) == (97_150, 1, 3)
    # The same form sent again (a double click, a reload): the same PINs, nothing paid twice.
    again = client.post("/reseller/epins", data={"offer": OFFER, "quantity": "3", "key": key, "csrf_token": token})
    assert again.status_code == 200
    assert "This purchase was made already (the form was sent twice): here are the same PINs. Nothing was paid " \
           "twice." in text_of(again.text)
    assert pins_on(again.text) == cards and csv_on(again.text) == rows
    assert moved(site.db, "TABAC-RIVOLI") == after
    assert commission_total(site.db) == -150
    # No GET shows a PIN again: not the home page, not the form, not the statement, not the CSV.
    for path in ("/reseller", "/reseller/epins", "/reseller/statement", "/reseller/statement.csv"):
        page = client.get(path).text
        assert not any(pin in page.replace(" ", "") for _, pin in cards), path
    home = text_of(client.get("/reseller").text)
    assert "e-PINs bought Orange · €10.00 3 100000000001-100000000003 €28.50 €1.50" in home


def test_e_pins_with_a_float_too_small_move_nothing(site):
    _, person = site.reseller(deposit_minor=1_800, discount_bp=500)  # 2 × 9.50 = 19.00 > 18.00
    client = site.signed_in(person)
    before = moved(site.db, "TABAC-RIVOLI")
    refused = buy(client, quantity="2")
    assert refused.status_code == 402
    assert "Your float is too low for this: nothing was bought and nothing moved." in text_of(refused.text)
    assert pins_on(refused.text) == [] and "data:text/csv" not in refused.text
    assert moved(site.db, "TABAC-RIVOLI") == before
    assert (before.float_minor, before.purchases, before.vouchers, before.batches) == (1_800, 0, 0, 0)
    assert 'value="2"' in refused.text  # the form again, as it was, with a fresh key
    one = buy(client, quantity="1")  # what the float can pay still works, and takes the first serial
    assert one.status_code == 200 and [s for s, _ in pins_on(one.text)] == [100_000_000_001]
    assert moved(site.db, "TABAC-RIVOLI").float_minor == 1_800 - 950


def test_e_pin_form_refuses_what_it_cannot_sell(site):
    _, person = site.reseller()
    client = site.signed_in(person)
    before = moved(site.db, "TABAC-RIVOLI")
    for data, status, message in (
            ({"offer": OFFER, "quantity": "0"}, 422, "Choose a quantity from 1 to 1000."),
            ({"offer": OFFER, "quantity": "1001"}, 422, "Choose a quantity from 1 to 1000."),
            ({"offer": OFFER, "quantity": "two"}, 422, "Choose a quantity from 1 to 1000."),
            ({"offer": "cn-mobile-shenzhouxing-50", "quantity": "1"}, 422, "Choose one of the offers in the list."),
            ({"offer": "nothing", "quantity": "1"}, 422, "Choose one of the offers in the list.")):
        answer = buy(client, **data)
        assert answer.status_code == status and message in text_of(answer.text), data
    assert moved(site.db, "TABAC-RIVOLI") == before
    # A key used for one purchase, sent again with another quantity: refused, nothing more bought.
    page = client.get("/reseller/epins").text
    key = form_key(page)
    assert buy(client, quantity="1", key=key).status_code == 200
    reused = buy(client, quantity="2", key=key)
    assert reused.status_code == 409
    assert "This form was already sent with other choices." in text_of(reused.text)
    assert moved(site.db, "TABAC-RIVOLI").purchases == 1


# -- a customer's line --------------------------------------------------------------------------------------------------

def test_a_line_topped_up_from_the_float_pays_the_price_less_the_discount(site):
    make_line(site.db, now=site.clock())
    _, person = site.reseller(deposit_minor=100_000, discount_bp=500)
    client = site.signed_in(person)
    balance = view(site.db).balance.minor
    form = client.get("/reseller/topup")
    key, token = form_key(form.text), csrf(form.text)
    done = client.post("/reseller/topup", data={"msisdn": "06 12 34 56 78", "offer": OFFER, "key": key,
                                                "csrf_token": token})
    assert done.status_code == 200
    words = text_of(done.text)
    assert f"The line {MASKED} is topped up. The customer gets an SMS." in words
    assert (f"Number {MASKED} Offer Orange — Mobicarte Price for the customer €10.00 Paid from the float €9.50 "
            "Your commission €0.50 Float now €990.50") in words
    assert "12 34 56" not in done.text and "612345678" not in done.text
    assert moved(site.db, "TABAC-RIVOLI").float_minor == 100_000 - 950
    assert view(site.db).balance.minor == balance + 1_000
    assert commission_total(site.db) == -50
    again = client.post("/reseller/topup", data={"msisdn": "06 12 34 56 78", "offer": OFFER, "key": key,
                                                 "csrf_token": token})
    assert again.status_code == 200
    assert "This top-up was made already (the form was sent twice). Nothing was paid twice." in text_of(again.text)
    assert moved(site.db, "TABAC-RIVOLI").float_minor == 100_000 - 950
    assert view(site.db).balance.minor == balance + 1_000
    statement = text_of(client.get("/reseller/statement").text)
    assert f"Line topped up {MASKED} -€9.50 €0.50 €990.50" in statement


def test_a_top_up_the_float_cannot_pay_moves_nothing(site):
    make_line(site.db, now=site.clock())
    _, person = site.reseller(deposit_minor=900, discount_bp=500)
    client = site.signed_in(person)
    before, line_before = moved(site.db, "TABAC-RIVOLI"), view(site.db)
    refused = top_up(client)
    assert refused.status_code == 402
    assert "Your float is too low for this: nothing was bought and nothing moved." in text_of(refused.text)
    assert moved(site.db, "TABAC-RIVOLI") == before
    line_after = view(site.db)
    assert (line_after.balance, line_after.line.validity_ends_at) == (line_before.balance,
                                                                      line_before.line.validity_ends_at)
    unknown = top_up(client, msisdn="06 99 99 99 99")
    assert unknown.status_code == 404 and "No line has this number: check it with the customer." in text_of(
        unknown.text)
    wrong = top_up(client, msisdn="not a number")
    assert wrong.status_code == 422 and "This is not a valid mobile number." in text_of(wrong.text)
    assert moved(site.db, "TABAC-RIVOLI") == before


# -- statement ------------------------------------------------------------------------------------------------------------

def test_the_statement_csv_lists_every_movement_with_its_commission_and_running_balance(site):
    make_line(site.db, now=site.clock())
    reseller, person = site.reseller(deposit_minor=0, discount_bp=500)
    with site.db.transaction() as session:
        resellers.deposit(session, reseller=reseller, amount=Money(5_000, "EUR"), reference="VIR 0301, Rivoli",
                          actor="staff:alice", reason="bank transfer", now=site.clock())
    site.clock.advance(minutes=10)
    client = site.signed_in(person)
    assert buy(client, quantity="2").status_code == 200
    site.clock.advance(minutes=10)
    assert top_up(client).status_code == 200
    site.clock.advance(days=1)
    batch, _ = print_batch(site.db, quantity=4, now=site.clock())
    sell(site.db, serial_from=batch.serial_from, serial_to=batch.serial_from + 1, now=site.clock())
    client = site.signed_in(person)  # a day later: a new session
    answer = client.get("/reseller/statement.csv?from=2027-03-01&to=2027-03-31")
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == \
        'attachment; filename="statement-TABAC-RIVOLI-2027-03-01_2027-03-31.csv"'
    assert answer.text == (
        "date,kind,reference,amount,commission,balance,currency\n"
        "2027-03-01T09:00:00Z,deposit,\"VIR 0301, Rivoli\",50.00,0.00,50.00,EUR\n"
        "2027-03-01T09:10:00Z,epins,100000000001-100000000002,-19.00,1.00,31.00,EUR\n"
        f"2027-03-01T09:20:00Z,topup,{MASKED},-9.50,0.50,21.50,EUR\n"
        "2027-03-02T09:20:00Z,cards,100000000003-100000000004,-19.00,1.00,2.50,EUR\n")
    # A period: the balance it starts from, and only its movements.
    later = client.get("/reseller/statement.csv?from=2027-03-02&to=2027-03-02").text
    assert later.splitlines()[1:] == ["2027-03-02T09:20:00Z,cards,100000000003-100000000004,-19.00,1.00,2.50,EUR"]
    page = text_of(client.get("/reseller/statement?from=2027-03-02&to=2027-03-02").text)
    assert "Balance at the start €21.50 Balance at the end €2.50 Commission earned €1.00" in page
    assert "Cards bought 100000000003-100000000004 -€19.00 €1.00 €2.50" in page
    assert 'href="/reseller/statement.csv?from=2027-03-02&amp;to=2027-03-02"' in client.get(
        "/reseller/statement?from=2027-03-02&to=2027-03-02").text
    empty = text_of(client.get("/reseller/statement?from=2027-04-01&to=2027-04-30").text)
    assert "Balance at the start €2.50 Balance at the end €2.50" in empty
    assert "Nothing moved on the float in this period." in empty
    # The default period is this month so far; the home page shows the last commissions.
    assert client.get("/reseller/statement.csv").text == answer.text
    home = text_of(client.get("/reseller").text)
    assert f"Line topped up {MASKED} €9.50 €0.50" in home and "Cards bought" in home


def test_a_period_that_is_not_one_is_said_so(site):
    _, person = site.reseller()
    client = site.signed_in(person, lang="fr")
    for query in ("from=2027-03-31&to=2027-03-01", "from=2027-02-30", "to=10000-01-01", "from=x"):
        page = client.get(f"/reseller/statement?{query}")
        assert page.status_code == 422, query
        assert "Ce n’est pas une période valide." in text_of(page.text), query
        assert client.get(f"/reseller/statement.csv?{query}").status_code == 422


def test_hostile_values_in_the_reseller_forms_never_give_a_5xx_and_move_nothing(site):
    make_line(site.db, now=site.clock())
    _, person = site.reseller()
    client = site.signed_in(person)
    before, line = moved(site.db, "TABAC-RIVOLI"), view(site.db)
    token = csrf(client.get("/reseller/epins").text)
    plausible = {"/reseller/epins": {"offer": OFFER, "quantity": "0", "key": "k" * 22},
                 "/reseller/topup": {"msisdn": "not a number", "offer": OFFER, "key": "k" * 22}}
    failures = []
    for value in [v for v in HOSTILE if v != NUMBER]:  # a real number would be topped up, rightly
        for name in ("from", "to"):
            for path in ("/reseller/statement", "/reseller/statement.csv"):
                answer = client.get(path, params={name: value})
                if answer.status_code >= 500:
                    failures.append((path, name, value[:20]))
        for path, form in plausible.items():
            for name in form:
                answer = client.post(path, data={**form, name: value, "csrf_token": token})
                if answer.status_code >= 500:
                    failures.append((path, name, value[:20]))
    assert failures == []
    assert moved(site.db, "TABAC-RIVOLI") == before and view(site.db).balance == line.balance


def test_a_form_sent_several_times_at_once_buys_once(site, live_server):
    """Double clicks that reach the server together (no JavaScript to stop them): one purchase, the same PINs."""
    _, person = site.reseller(deposit_minor=100_000)
    with httpx.Client(base_url=live_server) as browser:
        sign_in(browser, site.db, person, now=site.clock())
        page = browser.get("/reseller/epins").text
        form = {"offer": OFFER, "quantity": "5", "key": form_key(page), "csrf_token": csrf(page)}
        cookies = dict(browser.cookies)

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server, cookies=cookies, timeout=30) as tab:
            return tab.post("/reseller/epins", data=form)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert len({tuple(pins_on(a.text)) for a in answers}) == 1 and len(pins_on(answers[0].text)) == 5
    after = moved(site.db, "TABAC-RIVOLI")
    assert (after.float_minor, after.purchases, after.vouchers) == (100_000 - 5 * 950, 1, 5)
