from datetime import UTC, datetime, timedelta

import pytest

from simkeep.core.errors import IdempotencyKeyReused, LineNotRenewable, OfferNotFound, ValidityCapReached
from simkeep.ledger import service as ledger
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.factories.snapshot import snapshot


def test_topup_credits_balance_and_extends_validity_from_current_end(db):
    line = make_line(db, now=T0)
    # Orange: 30 days initial validity from 1 March 10:00 Paris -> ends at the start of 1 April (Paris).
    assert line.validity_ends_at == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)
    result = top_up(db, offer_id="fr-orange-mobicarte-25", now=T0 + timedelta(days=1))
    # 60 days more from the current end, crossing the DST change: still local midnight (UTC+2 now).
    assert result.topup.validity_ends_at == datetime(2027, 5, 30, 22, 0, tzinfo=UTC)
    state = view(db)
    assert (state.credit.minor, state.bonus.minor, state.balance.minor) == (2500, 500, 3000)
    assert state.line.state == "active"
    with db.transaction(write=False) as session:
        assert ledger.verify(session).ok


def test_same_key_same_body_replays_without_moving_money(db):
    make_line(db, now=T0)
    first = top_up(db, key="once", now=T0)
    before = snapshot(db)
    second = top_up(db, key="once", now=T0 + timedelta(minutes=1))
    assert second.replayed and second.topup.id == first.topup.id
    assert snapshot(db) == before


def test_same_key_different_body_is_refused_and_nothing_moves(db):
    make_line(db, now=T0)
    top_up(db, key="once", now=T0)
    before = snapshot(db)
    with pytest.raises(IdempotencyKeyReused):
        top_up(db, key="once", offer_id="fr-orange-mobicarte-5", now=T0)
    assert snapshot(db) == before


def test_unknown_offer_or_other_operators_offer_is_refused(db):
    make_line(db, now=T0)
    before = snapshot(db)
    for offer in ("nope", "fr-sfr-la-carte-10"):
        with pytest.raises(OfferNotFound):
            top_up(db, offer_id=offer, now=T0)
    assert snapshot(db) == before


def test_validity_cap_refuses_before_any_money_moves(db):
    make_line(db, now=T0)
    for _ in range(4):  # 4 x 150 days + 30 initial = 630 days < 730
        top_up(db, offer_id="fr-orange-mobicarte-100", now=T0)
    before = snapshot(db)
    with pytest.raises(ValidityCapReached):
        top_up(db, offer_id="fr-orange-mobicarte-100", now=T0)
    assert snapshot(db) == before


def test_deactivated_line_cannot_be_renewed(db):
    line = make_line(db, now=T0)
    before = snapshot(db)
    with pytest.raises(LineNotRenewable):
        top_up(db, now=line.number_loss_at)
    assert snapshot(db) == before
