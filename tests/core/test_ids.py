"""Ids made in one process sort in the order they were made, even within one millisecond."""

import threading
import uuid
from unittest import mock

import pytest

from simkeep.core import ids
from simkeep.core.ids import new_id


@pytest.fixture(autouse=True)
def _fresh_sequence(monkeypatch):
    """Each test starts the process's sequence afresh: ids made earlier in the session (at today's real time) would
    otherwise be later than the instants these tests freeze."""
    monkeypatch.setattr(ids, "_last_ms", 0)
    monkeypatch.setattr(ids, "_counter", 0)


def test_ids_made_in_the_same_millisecond_sort_in_the_order_they_were_made():
    with mock.patch.object(ids.time, "time_ns", return_value=1_790_000_000_000 * 1_000_000):
        made = [new_id() for _ in range(5_000)]  # more than the 12-bit counter holds: borrows the next ms
    assert made == sorted(made) and len(set(made)) == 5_000
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in made)
    assert made[0].int >> 80 == 1_790_000_000_000


def test_a_clock_that_steps_back_does_not_break_the_order():
    with mock.patch.object(ids.time, "time_ns", return_value=1_790_000_000_500 * 1_000_000):
        first = new_id()
    with mock.patch.object(ids.time, "time_ns", return_value=1_790_000_000_000 * 1_000_000):
        second = new_id()
    assert second > first


def test_threads_never_make_the_same_id():
    made: list[uuid.UUID] = []
    workers = [threading.Thread(target=lambda: made.extend(new_id() for _ in range(2_000))) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(set(made)) == 8_000
