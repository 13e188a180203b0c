import pytest

from simkeep.history import search as finder
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import service as lines
from simkeep.receipt import service as receipts
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.vouchers import make_reseller, redeem, sold_cards
from tests.history.factories import HOUR, SYMA, pay_by_card

ORANGE = "fr-orange-mobicarte"


def find(db, text: str) -> finder.Search:
    with db.transaction(write=False) as session:
        return finder.search(session, text, region="FR")


def found(db, text: str) -> list[tuple]:
    return [(f.line.id, f.matched) for f in find(db, text).found]


@pytest.mark.parametrize("typed", ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "+33612345678",
                                   "0033612345678", "  06.12.34.56.78 "])
def test_a_number_in_any_format_finds_its_line(db, typed):
    line = make_line(db, now=T0)
    assert found(db, typed) == [(line.id, ("number",))]


def test_a_recycled_number_finds_the_live_line_and_the_former_one_newest_first(db):
    former = make_line(db, operator_id=SYMA, now=T0)
    run_sweep(db, now=former.available_at)
    live = make_line(db, operator_id=ORANGE, now=former.available_at + HOUR)
    result = find(db, "06 12 34 56 78")
    assert [(f.line.id, f.line.state, f.matched) for f in result.found] == [
        (live.id, "active", ("number",)), (former.id, "available", ("number",))]
    assert result.only is None


def test_an_email_finds_its_lines_whatever_its_case(db):
    first = make_line(db, now=T0)
    second = make_line(db, msisdn="+33611111111", operator_id=SYMA, now=T0 + HOUR)
    other = make_line(db, msisdn="+33622222222", now=T0 + HOUR)
    with db.transaction() as session:
        lines.get_line(session, first.id).email = "Li.Wei@Example.org"
        lines.get_line(session, second.id).email = "li.wei@example.org"
        lines.get_line(session, other.id).email = "someone@example.org"
    assert found(db, " LI.WEI@example.ORG ") == [(second.id, ("email",)), (first.id, ("email",))]
    assert found(db, "someone@EXAMPLE.org") == [(other.id, ("email",))]


def test_a_receipt_number_and_a_payment_reference_find_the_line_that_paid(db):
    line = make_line(db, operator_id=SYMA, now=T0)
    attempt_id = pay_by_card(db, at=T0 + HOUR, ref="pi_3QxAbC")
    with db.transaction(write=False) as session:
        (receipt,) = receipts.for_line(session, line.id)
    assert found(db, receipt.number) == [(line.id, ("receipt",))]
    assert found(db, receipt.number.lower()) == [(line.id, ("receipt",))]
    assert found(db, "pi_3QxAbC") == [(line.id, ("payment_ref",))]
    assert found(db, "pi_3qxabc") == []  # a provider's id is case-sensitive
    assert attempt_id is not None


def test_a_card_serial_and_a_top_up_id_find_the_line_they_renewed(db):
    make_reseller(db, now=T0)
    ((serial, pin),) = sold_cards(db, quantity=1, now=T0)
    line = make_line(db, msisdn="+33611111111", now=T0)
    redeem(db, pin=pin, msisdn="+33611111111", now=T0 + HOUR)
    spaced = f"{str(serial)[:4]} {str(serial)[4:]}"
    assert found(db, spaced) == [(line.id, ("voucher_serial",))]
    other = make_line(db, msisdn="+33622222222", now=T0)
    result = top_up(db, msisdn="+33622222222", now=T0 + HOUR)
    assert found(db, str(result.topup.id)) == [(other.id, ("id",))]
    assert found(db, str(other.id)) == [(other.id, ("id",))]


@pytest.mark.parametrize(("typed", "tried"), [
    ("+33699999999", ("number", "payment_ref")),
    ("nobody@example.org", ("email",)),
    ("FR-ORANGE-2027-000001", ("receipt", "payment_ref")),
    ("123456789012", ("payment_ref", "voucher_serial")),  # too long for a French number
    ("01a22d58-7366-71d8-beb9-bf5360dc705b", ("payment_ref", "id")),
])
def test_nothing_found_says_what_the_text_was_searched_as(db, typed, tried):
    make_line(db, now=T0)
    result = find(db, typed)
    assert (result.found, result.tried) == ([], tried)


def test_an_empty_search_searches_nothing(db):
    assert find(db, "   ") == finder.Search("", (), [])
