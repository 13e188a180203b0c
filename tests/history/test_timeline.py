from datetime import timedelta

import pytest

from simkeep.admin.lines import ID_CHECKS
from simkeep.history import timeline
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import service as lines
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.history.factories import HOUR, SYMA, line_through_everything


def label(item) -> str:
    """What tells items of one kind apart in the expected list."""
    row = item.row
    return {"state": lambda: row.to_state, "message": lambda: f"{row.topic} {row.channel}",
            "staff_action": lambda: row.action, "refund": lambda: row.status, "topup": lambda: row.channel,
            "payment": lambda: row.method, "note": lambda: row.author, "id_check": lambda: row.document_type,
            "charge": lambda: row.kind}[item.kind]()


def whole(db, line_id, *, limit, kinds=()):
    """Every page from the newest, following the cursor."""
    items, cursor = [], None
    with db.transaction(write=False) as session:
        line = lines.get_line(session, line_id)
        while True:
            page = timeline.timeline(session, line, cursor=cursor, limit=limit, kinds=kinds, extra=(ID_CHECKS,))
            assert len(page.items) <= limit
            items += page.items
            if page.next is None:
                return items
            cursor = timeline.Cursor.decode(page.next.encode())


def test_the_timeline_of_a_line_that_went_through_every_state_lists_everything_newest_first(db):
    line_id = line_through_everything(db)
    items = whole(db, line_id, limit=50)
    assert [(item.kind, label(item)) for item in items] == [
        ("state", "available"),
        ("state", "quarantine"),
        # One instant's items of one kind: newest (last written) first.
        ("state", "deactivated"), ("message", "line.deactivated email"), ("message", "line.deactivated sms"),
        ("state", "suspended"), ("message", "line.suspended email"), ("message", "line.suspended sms"),
        ("message", "reminder email"), ("message", "reminder sms"),  # 30 days before the number is lost
        ("state", "grace"), ("message", "line.grace email"), ("message", "line.grace sms"),
        ("staff_action", "refund.requested"), ("refund", "succeeded"), ("message", "payment.refunded sms"),  # T0+7h
        ("topup", "portal"), ("payment", "card"), ("message", "topup.completed sms"),  # T0+6h
        ("staff_action", "line.note_added"), ("note", "staff:sam"),  # T0+5h
        ("id_check", "passport"),  # T0+4h
        ("charge", "sms"),  # T0+3h
        ("topup", "api"), ("message", "topup.completed sms"),  # T0+1h, its delivery receipt at T0+2h
        ("state", "active"),  # T0: created
    ]
    assert [item.at for item in items[-13:]] == [T0 + 7 * HOUR] * 3 + [T0 + 6 * HOUR] * 3 + [T0 + 5 * HOUR] * 2 + [
        T0 + 4 * HOUR, T0 + 3 * HOUR, T0 + HOUR, T0 + HOUR, T0]
    first_sms = items[-2].row
    assert (first_sms.status, first_sms.receipt_status, first_sms.receipt_at) == ("sent", "DELIVRD", T0 + 2 * HOUR)
    staff = [item.row for item in items if item.kind == "staff_action"]
    assert [(e.action, e.subject_type, e.actor) for e in staff] == [
        ("refund.requested", "payment_attempt", "staff:fay"), ("line.note_added", "line", "staff:sam")]
    check = next(item.row for item in items if item.kind == "id_check")
    assert (check.document_type, check.issuing_country, check.last4) == ("passport", "FR", "1234")
    refund = next(item.row for item in items if item.kind == "refund")
    assert (refund.amount_minor, refund.status) == (200, "succeeded")


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_pages_follow_each_other_exactly_whatever_their_size(db, limit):
    line_id = line_through_everything(db)
    assert [item.key for item in whole(db, line_id, limit=limit)] == [item.key for item in whole(db, line_id, limit=50)]


def test_items_at_one_instant_are_never_split_or_repeated_across_pages(db):
    """Swept straight from active to the pool at once: five state changes share one instant (no notice: the number
    is gone already)."""
    line = make_line(db, operator_id=SYMA, now=T0)
    with db.transaction(write=False) as session:
        available_at = lines.get_line(session, line.id).available_at
    run_sweep(db, now=available_at)
    everything = whole(db, line.id, limit=50)
    assert [item.row.to_state for item in everything] == ["available", "quarantine", "deactivated", "suspended",
                                                          "grace", "active"]
    assert len({item.at for item in everything[:5]}) == 1
    for limit in (1, 2, 4):
        assert [item.key for item in whole(db, line.id, limit=limit)] == [item.key for item in everything]


def test_the_chips_show_one_kind_and_the_cursor_keeps_it(db):
    line_id = line_through_everything(db)
    states = whole(db, line_id, limit=2, kinds=["state"])
    assert [item.row.to_state for item in states] == ["available", "quarantine", "deactivated", "suspended", "grace",
                                                      "active"]
    money = whole(db, line_id, limit=1, kinds=["payment", "refund", "charge"])
    assert [item.kind for item in money] == ["refund", "payment", "charge"]


@pytest.mark.parametrize("text", ["", "nonsense", "2027-03-01T09:00:00~topup", "2027-03-01T09:00:00~topup~x",
                                  "2027-03-01T09:00:00+00:00~unknown~x", "not-a-date~topup~x"])
def test_a_cursor_that_is_not_one_of_ours_is_refused(text):
    with pytest.raises(timeline.CursorInvalid):
        timeline.Cursor.decode(text)


def test_a_cursor_comes_back_as_it_was_given():
    cursor = timeline.Cursor(T0 + timedelta(microseconds=7), "message", "0190-abc")
    assert timeline.Cursor.decode(cursor.encode()) == cursor
