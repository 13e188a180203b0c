"""The agent console's services (store/console.py): the facts of a number, the minimised ID check, the offer that
keeps a number past a date, and a store's sales — exact values, and nothing stored on a refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from simkeep.core.errors import InvalidMsisdn, LineNotFound
from simkeep.core.money import Money
from simkeep.store import console
from simkeep.store import service as stores
from simkeep.store.models import IdCheck
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller

PARIS_MIDNIGHT = "T22:00:00+00:00"  # local midnight in summer time, as UTC


@pytest.fixture
def counter(db, settings):
    line = make_line(db, now=T0)
    store = make_store(db, now=T0)
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    open_drawer(db, agent, now=T0)
    return store, agent, line


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_number_typed_any_way_gives_the_line_its_balance_dates_and_last_renewals(db, counter):
    _, agent, line = counter
    top_up(db, channel="portal", now=T0 + timedelta(hours=1))
    sale = sell(db, agent, offer_id="fr-orange-mobicarte-25", now=T0 + timedelta(hours=2)).outcome()
    for typed in ("06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678"):
        with db.transaction(write=False) as session:
            facts = console.look_up(session, msisdn=typed)
        assert facts.line.id == line.id
    assert (facts.line.state, facts.balance) == ("active", Money(4000, "EUR"))  # 10 + 25 + 5 bonus
    # 30 initial days, then 14 (10.00) and 60 (25.00): the last day is 13 June; grace 180 days → kept to 10 Dec.
    assert facts.line.validity_ends_at == at("2027-06-13" + PARIS_MIDNIGHT)
    assert facts.line.number_loss_at == at("2027-12-10T23:00:00+00:00")
    assert [(r.channel, r.amount.minor, r.voided) for r in facts.renewals] == [("agent", 2500, False),
                                                                             ("portal", 1000, False)]
    with db.transaction() as session:
        stores.void(session, sale_id=sale.id, store_id=sale.store_id, by=agent.actor, reason="wrong offer",
                    now=T0 + timedelta(hours=2, minutes=5), window=timedelta(minutes=15))
    with db.transaction(write=False) as session:
        assert [r.voided for r in console.look_up(session, msisdn="0612345678").renewals] == [True, False]


def test_only_the_last_five_renewals_are_shown(db, counter):
    for n in range(7):
        top_up(db, now=T0 + timedelta(minutes=n))
    with db.transaction(write=False) as session:
        renewals = console.look_up(session, msisdn="+33612345678").renewals
    assert [r.at for r in renewals] == [T0 + timedelta(minutes=n) for n in (6, 5, 4, 3, 2)]


def test_an_unknown_or_invalid_number_is_a_clear_error(db, counter):
    with db.transaction(write=False) as session:
        with pytest.raises(LineNotFound):
            console.look_up(session, msisdn="+33699999999")
        with pytest.raises(InvalidMsisdn):
            console.look_up(session, msisdn="12")


def id_checks(db) -> list[IdCheck]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(IdCheck)))


def test_an_id_check_keeps_the_type_the_country_and_the_last_four_only(db, counter):
    store, agent, line = counter
    with db.transaction() as session:
        console.record_id_check(session, store_id=store.id, line=line, document_type="passport",
                                issuing_country=" cn ", last4="e1 2-3", checked_by=agent.actor, now=T0)
    [check] = id_checks(db)
    stored = {c.key: getattr(check, c.key) for c in inspect(IdCheck).mapper.column_attrs}
    assert stored == {"id": check.id, "store_id": store.id, "line_id": line.id, "document_type": "passport",
                      "issuing_country": "CN", "last4": "E123", "checked_by": "staff:li", "checked_at": T0}


@pytest.mark.parametrize(("fields", "error"), [
    ({"document_type": "selfie"}, console.IdDocumentInvalid),
    ({"issuing_country": "XX"}, console.IdCountryInvalid),
    ({"issuing_country": "EU"}, console.IdCountryInvalid),
    ({"issuing_country": "CHN"}, console.IdCountryInvalid),
    ({"last4": "E12345678"}, console.IdLast4Invalid),  # the whole number: refused, not cut
    ({"last4": "123"}, console.IdLast4Invalid),
    ({"last4": "12é4"}, console.IdLast4Invalid),
])
def test_a_wrong_id_check_is_refused_and_stores_nothing(db, counter, fields, error):
    store, agent, line = counter
    form = {"document_type": "residence_permit", "issuing_country": "FR", "last4": "1234", **fields}
    with db.transaction() as session, pytest.raises(error):
        console.record_id_check(session, store_id=store.id, line=line, checked_by=agent.actor, now=T0, **form)
    assert id_checks(db) == []


def test_a_sale_needs_an_id_check_of_this_line_at_this_store_in_the_last_30_minutes(db, counter):
    store, agent, line = counter
    other = make_store(db, code="LYON-GUILLOTIERE", now=T0)
    with db.transaction() as session:
        console.record_id_check(session, store_id=other.id, line=line, document_type="passport",
                                issuing_country="CN", last4="1234", checked_by="staff:elsewhere", now=T0)
    with db.transaction(write=False) as session, pytest.raises(console.IdCheckRequired):
        console.require_id_check(session, store_id=store.id, msisdn="0612345678", now=T0)
    with db.transaction() as session:
        console.record_id_check(session, store_id=store.id, line=line, document_type="passport",
                                issuing_country="CN", last4="1234", checked_by=agent.actor, now=T0)
    with db.transaction(write=False) as session:
        assert console.require_id_check(session, store_id=store.id, msisdn="0612345678",
                                        now=T0 + timedelta(minutes=29, seconds=59)).id == line.id
        with pytest.raises(console.IdCheckRequired):
            console.require_id_check(session, store_id=store.id, msisdn="0612345678", now=T0 + timedelta(minutes=30))


# The line: valid to 31 March, kept to 27 September (180 days of grace). Each offer's validity from 1 April, then
# 180 days: 5.00 (7 d) → kept to 4 Oct, 10.00 (14 d) → 11 Oct, 15.00 (30 d) → 27 Oct, 25.00 (60 d) → 26 Nov,
# 35.00 (90 d) → 26 Dec, 50.00 and 75.00 (120 d) → 25 Jan 2028, 100.00 (150 d) → 24 Feb 2028.
@pytest.mark.parametrize(("until", "offer", "keeps", "already"), [
    (date(2027, 9, 1), "fr-orange-mobicarte-5", True, True),
    (date(2027, 10, 3), "fr-orange-mobicarte-5", True, False),
    (date(2027, 10, 4), "fr-orange-mobicarte-10", True, False),  # 5.00 keeps it to the end of 4 Oct, not beyond
    (date(2027, 10, 11), "fr-orange-mobicarte-15", True, False),
    (date(2027, 12, 31), "fr-orange-mobicarte-50", True, False),  # 50.00 and 75.00 buy the same: the cheaper
    (date(2028, 2, 23), "fr-orange-mobicarte-100", True, False),
    (date(2028, 2, 24), "fr-orange-mobicarte-100", False, False),  # none does: the one that keeps it longest
])
def test_the_recommendation_is_the_cheapest_offer_that_keeps_the_number_beyond_the_date(db, counter, until, offer,
                                                                                       keeps, already):
    _, _, line = counter
    with db.transaction(write=False) as session:
        found = console.recommend(session, line=line, until=until, now=T0)
    assert (found.best.offer.id, found.keeps, found.already_kept) == (offer, keeps, already)


def test_the_recommendation_gives_the_exact_dates_and_respects_the_validity_cap(db, counter):
    _, _, line = counter
    with db.transaction(write=False) as session:
        found = console.recommend(session, line=line, until=date(2027, 10, 4), now=T0)
    assert found.best.price == Money(1000, "EUR")
    assert found.best.validity_ends_at == at("2027-04-14" + PARIS_MIDNIGHT)
    assert found.best.number_loss_at == at("2027-10-11" + PARIS_MIDNIGHT)
    # Four 100.00 top-ups buy 600 days more: within the 730-day cap only offers of 90 days or less still fit.
    later = T0 + timedelta(days=1)
    for _n in range(4):
        top_up(db, offer_id="fr-orange-mobicarte-100", now=later)
    with db.transaction(write=False) as session:
        current = console.look_up(session, msisdn="0612345678").line
        found = console.recommend(session, line=current, until=date(2030, 1, 1), now=later)
    assert found.capped == ["fr-orange-mobicarte-50", "fr-orange-mobicarte-75", "fr-orange-mobicarte-100"]
    assert (found.best.offer.id, found.keeps) == ("fr-orange-mobicarte-35", False)


def test_a_date_in_the_past_is_refused(db, counter):
    _, _, line = counter
    with db.transaction(write=False) as session, pytest.raises(console.RecommendDateInvalid):
        console.recommend(session, line=line, until=date(2027, 2, 28), now=T0)


def test_the_sales_of_a_day_are_the_stores_own_in_its_time_zone_voided_ones_included(db, settings, counter):
    store, agent, _ = counter
    other = make_store(db, code="LYON-GUILLOTIERE", now=T0)
    lyon = seller(other, make_staff(db, settings, username="jean", role="agent", store_id=other.id, now=T0))
    open_drawer(db, lyon, now=T0)
    first = sell(db, agent, now=T0).outcome()
    second = sell(db, agent, method="card", terminal_ref="A1", now=T0 + timedelta(minutes=1)).outcome()
    sell(db, lyon, now=T0 + timedelta(minutes=2)).outcome()
    late = sell(db, agent, now=datetime(2027, 3, 1, 23, 30, tzinfo=UTC)).outcome()  # 00:30 on 2 March in Paris
    with db.transaction() as session:
        stores.void(session, sale_id=first.id, store_id=store.id, by="staff:marie", reason="wrong number",
                    now=T0 + timedelta(minutes=3), window=timedelta(minutes=15))
    with db.transaction(write=False) as session:
        day = console.sales_of(session, store_id=store.id, day=date(2027, 3, 1))
        next_day = console.sales_of(session, store_id=store.id, day=date(2027, 3, 2))
        detail = console.sale_detail(session, sale_id=second.id, store_id=store.id)
        with pytest.raises(stores.OtherStore):
            console.sale_detail(session, sale_id=second.id, store_id=other.id)
        with pytest.raises(stores.SaleNotFound):
            console.sale_detail(session, sale_id=other.id, store_id=store.id)
    assert [(r.sale.id, r.agent, r.sale.voided_at is not None) for r in day.sales] == [
        (second.id, "li", False), (first.id, "li", True)]
    assert (day.total(), day.total("cash"), day.total("card")) == (1000, 0, 1000)
    assert [r.sale.id for r in next_day.sales] == [late.id]
    assert (detail.receipt.id, detail.topup.id, detail.offer.validity_days, detail.agent) == (
        second.receipt_id, second.topup_id, 14, "li")
    assert detail.voidable(T0 + timedelta(minutes=16), timedelta(minutes=15))
    assert not detail.voidable(T0 + timedelta(minutes=16, seconds=1), timedelta(minutes=15))


def test_id_checks_are_counted_nowhere_else(db, counter):
    """Only the id_checks table holds ID data: the audit log gets nothing of it."""
    from simkeep.audit.models import AuditEntry

    store, agent, line = counter
    with db.transaction(write=False) as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    with db.transaction() as session:
        console.record_id_check(session, store_id=store.id, line=line, document_type="id_card",
                                issuing_country="FR", last4="9Z9Z", checked_by=agent.actor, now=T0)
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_the_confirmation_sms_names_the_store_in_the_customers_language(db, counter):
    from simkeep.notification import templates
    from simkeep.notification.models import OutboxMessage

    _, agent, _ = counter
    sell(db, agent, now=T0).outcome()
    with db.transaction(write=False) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "topup.completed")).one()
    link = message.payload["receipt_url"]
    assert message.language == "fr" and message.payload["store"] == "Tabac de Belleville"
    assert templates.render("topup.completed", "zh_CN", message.payload) == (
        f"您的号码+33612345678已成功充值€10.00，有效期至2027年4月14日。于Tabac de Belleville办理。收据：{link}")
    assert templates.render("topup.completed", "fr", message.payload) == (
        "Votre recharge de 10,00\u00a0€ sur le +33612345678 est effectuée. Votre ligne est valable jusqu'au "
        f"14 avril 2027. Payée en boutique\u00a0: Tabac de Belleville. Justificatif\u00a0: {link}")
    assert templates.render("topup.completed", "en", message.payload).endswith(
        f"Your line is valid until April 14, 2027. Paid at Tabac de Belleville. Receipt: {link}")
