"""A delivery batch outlasting its lease: renewed where this worker still holds it, skipped where another worker
took it over, handed back on stop. Two workers, a sender that blocks until the test lets each send through, and
a clock the test moves: nothing here depends on how fast anything runs."""

import queue
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.core import clock
from simkeep.notification import outbox
from simkeep.notification.models import OutboxMessage
from simkeep.notification.tasks import deliver_due
from tests.conftest import T0


class GatedSender:
    """Announces each message it is about to send, then waits until the test lets it through."""

    def __init__(self) -> None:
        self.sent: list = []
        self.arrived: queue.Queue = queue.Queue()
        self.passes: queue.Queue = queue.Queue()

    def send(self, message) -> None:
        self.arrived.put(message.id)
        self.passes.get(timeout=30)
        self.sent.append(message.id)

    def next_arrival(self):
        return self.arrived.get(timeout=30)

    def let_through(self) -> None:
        self.passes.put(None)


class Recording:
    def __init__(self) -> None:
        self.sent: list = []

    def send(self, message) -> None:
        self.sent.append(message.id)


@pytest.fixture
def frozen(monkeypatch):
    """clock.now() returns what the test sets."""
    state = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: state["now"])

    def move_to(seconds: float) -> None:
        state["now"] = T0 + timedelta(seconds=seconds)

    return move_to


def enqueue(db, n: int) -> list:
    with db.transaction() as session:  # due a second apart, so a batch takes them in this order
        for i in range(n):
            outbox.enqueue(session, [outbox.Message(dedup_key=f"lease-test:{i}", topic="topup.completed",
                                                    channel=outbox.EVENT, recipient=outbox.OPERATOR, language="en",
                                                    payload={"id": f"event-{i}"})], now=T0 - timedelta(seconds=n - i))
    return rows(db)


def rows(db) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.dedup_key)))


def in_thread(work) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_a_slow_batch_renews_its_lease_so_a_second_worker_sends_nothing_twice(db, frozen):
    ids = [m.id for m in enqueue(db, 3)]
    slow, other = GatedSender(), Recording()
    frozen(0)
    first = in_thread(lambda: deliver_due(db, slow, lease_seconds=60))  # leases all three until T0+60
    assert slow.next_arrival() == ids[0]
    frozen(40)  # the first send took 40 s: past half the lease, so the rest is renewed until T0+100
    slow.let_through()
    assert slow.next_arrival() == ids[1]
    frozen(80)  # the first lease (T0+60) has run out; without the renewal the other worker would take 2 and 3
    assert deliver_due(db, other, lease_seconds=60) == 0
    slow.let_through()
    assert slow.next_arrival() == ids[2]
    frozen(95)
    assert deliver_due(db, other, lease_seconds=60) == 0  # renewed again at T0+80, until T0+140
    slow.let_through()
    first.join(10)
    assert not first.is_alive()
    assert (slow.sent, other.sent) == (ids, [])
    assert [(m.status, m.attempts, m.locked_until) for m in rows(db)] == [("sent", 1, None)] * 3


def test_messages_taken_over_by_another_worker_are_skipped_not_sent_again(db, frozen):
    ids = [m.id for m in enqueue(db, 3)]
    slow, late = GatedSender(), GatedSender()
    frozen(0)
    first = in_thread(lambda: deliver_due(db, slow, lease_seconds=60))
    assert slow.next_arrival() == ids[0]
    frozen(70)  # the first send hung past the whole lease: another worker leases the batch (until T0+130)
    second = in_thread(lambda: deliver_due(db, late, lease_seconds=60))
    assert late.next_arrival() == ids[0]  # the message in flight is the one that may go twice, with its id
    slow.let_through()  # the first worker's renewal is fenced by its own lease end (T0+60): 2 and 3 are lost
    first.join(10)
    assert not first.is_alive()
    for _ in ids:
        late.let_through()
    second.join(10)
    assert not second.is_alive()
    assert slow.sent == [ids[0]] and late.sent == ids
    assert [(m.status, m.attempts) for m in rows(db)] == [("sent", 2)] * 3  # each leased twice, 2 and 3 sent once


def test_a_stopping_worker_hands_the_rest_of_its_batch_back_at_once(db, frozen):
    ids = [m.id for m in enqueue(db, 3)]
    sender = Recording()
    frozen(0)
    assert deliver_due(db, sender, lease_seconds=60, stopping=lambda: len(sender.sent) >= 1) == 3
    assert sender.sent == ids[:1]
    assert [(m.status, m.attempts, m.locked_until) for m in rows(db)] == [
        ("sent", 1, None), ("pending", 0, None), ("pending", 0, None)]  # the unused attempt is taken back
    after = Recording()
    assert deliver_due(db, after, lease_seconds=60) == 2  # due at once, not after the lease
    assert after.sent == ids[1:]
