"""A year of daily sweeps by two workers at once: one reminder per offset and period, never in quiet hours,
none after opting out."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select

from simkeep.core.clock import zone
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import links
from simkeep.line.links import RenewalLinks
from simkeep.notification import service as notifications
from simkeep.notification.models import OutboxMessage
from tests.conftest import T0
from tests.factories.lines import make_line, top_up

NUMBERS = [f"+336{n:08d}" for n in range(20_000_000, 20_000_000 + 12)]
LINKS = RenewalLinks("https://r.example", "renewal-link-key")


def reminders(db) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "reminder")))


def test_a_year_of_daily_sweeps_by_two_workers(db):
    for i, msisdn in enumerate(NUMBERS):
        make_line(db, msisdn=msisdn, operator_id="fr-lebara", now=T0 + timedelta(days=i * 11))
    opted_out_at = T0 + timedelta(days=40)
    with db.transaction() as session:
        assert notifications.opt_out(session, msisdn=NUMBERS[1], now=opted_out_at)
    day = T0
    with ThreadPoolExecutor(2) as workers:
        for n in range(365):
            if n == 85:  # after its 30- and 7-day reminders, the first line is recharged: a second period
                top_up(db, msisdn=NUMBERS[0], offer_id="fr-lebara-10", now=day)
            # Two workers sweep the same instant at once, twice a day (one of them in the evening).
            for at in (day, day + timedelta(hours=12, minutes=30)):
                list(workers.map(lambda when: run_sweep(db, now=when, batch=3, links=LINKS),
                                 (at, at)))
            day += timedelta(days=1)
    sent = reminders(db)
    per_period = Counter((m.line_id, m.payload["number_loss_at"], m.payload["days_before"]) for m in sent)
    assert set(per_period.values()) == {1}
    by_line = Counter(m.line_id for m in sent)
    # The line opted out (before its first reminder was due) never got one; every other line did.
    assert [m for m in sent if m.recipient == NUMBERS[1]] == []
    assert len(by_line) == len(NUMBERS) - 1
    first = sorted((m.payload["number_loss_at"], -m.payload["days_before"]) for m in sent if m.recipient == NUMBERS[0])
    assert [-offset for _, offset in first] == [30, 7, 30, 7, 3, 1, 0]  # two periods, each counted afresh
    for m in sent:
        local = m.next_attempt_at.astimezone(zone("Europe/Paris"))
        assert 9 <= local.hour < 21, f"reminder due at {local} is inside quiet hours"
        # The link names the number and proves it came from us until the period's number-loss date (to the end
        # of that UTC day), not after.
        prefix = f"https://r.example/r/{m.recipient[1:]}."
        assert m.payload["renew_url"].startswith(prefix)
        link = m.payload["renew_url"].removeprefix("https://r.example/r/")
        loss = datetime.fromisoformat(m.payload["number_loss_at"])
        reading = links.read(["renewal-link-key"], link, now=loss)
        assert reading.msisdn == m.recipient and timedelta(0) < reading.until - loss <= timedelta(days=1)
        assert links.read(["renewal-link-key"], link, now=reading.until).until is None
        assert m.payload["cheapest_offer"]["amount"] == {"amount_minor": 500, "currency": "EUR"}
