"""/metrics: who may scrape it, and that its numbers are the ones that happened (deltas of the process's counters,
which other tests in the same process move too; the database's gauges exactly)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from simkeep.config import ConfigError, check
from simkeep.core.metrics import TOPUPS, count_on_commit
from simkeep.main import create_app
from simkeep.notification.senders.smpp import SmppSender
from tests.factories import payments
from tests.factories.lines import make_line
from tests.network.conftest import sim_line
from tests.notification.smsc import Smsc
from tests.web import FrozenClock, freeze_clock

TOKEN = "metrics-token-0123456789abcdefghijklmnopqrstuv"
TOPUP = {"msisdn": "+33612345678", "offer_id": "fr-orange-mobicarte-10", "channel": "api"}


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, **headers) -> dict[tuple, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}", **headers})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


@pytest.fixture
def metered(settings, db):
    from fastapi.testclient import TestClient
    app = create_app(settings.model_copy(update={"metrics_token": TOKEN}), db)
    with TestClient(app, headers={"Authorization": f"Bearer {settings.admin_token}"}) as client:
        yield client


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    return freeze_clock(monkeypatch)


def test_without_the_token_a_remote_scraper_is_refused(metered):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = metered.get("/metrics", headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "metrics_forbidden")
    assert scrape(metered)  # the token opens it


def test_this_machine_may_scrape_without_a_token_but_not_through_a_proxy(live_server):
    assert httpx.get(f"{live_server}/metrics").status_code == 200
    proxied = httpx.get(f"{live_server}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert (proxied.status_code, proxied.json()["error"]["code"]) == (403, "metrics_forbidden")


def test_a_weak_or_published_metrics_token_stops_production(settings):
    with pytest.raises(ConfigError) as refused:
        check(settings.model_copy(update={"metrics_token": "short"}))
    assert refused.value.problems == ["SIMKEEP_METRICS_TOKEN is too short (5 characters; at least 32)"]
    check(settings.model_copy(update={"metrics_token": TOKEN}))  # a strong one passes


def test_top_ups_are_counted_by_channel_and_outcome_once_committed(metered, db, clock):
    make_line(db, now=clock.at)
    before = {o: sample("simkeep_topups_total", channel="api", outcome=o)
              for o in ("completed", "replayed", "offer_not_found")}
    latency = sample("simkeep_http_request_duration_seconds_count", route="/api/v1/topups", method="POST",
                     status="2xx")
    for key in ("a", "a", "b"):
        assert metered.post("/api/v1/topups", json=TOPUP, headers={"Idempotency-Key": key}).status_code in (200, 201)
    refused = metered.post("/api/v1/topups", json={**TOPUP, "offer_id": "nope"}, headers={"Idempotency-Key": "c"})
    assert refused.status_code == 404
    after = {o: sample("simkeep_topups_total", channel="api", outcome=o) for o in before}
    assert {o: after[o] - before[o] for o in before} == {"completed": 2, "replayed": 1, "offer_not_found": 1}
    assert sample("simkeep_http_request_duration_seconds_count", route="/api/v1/topups", method="POST",
                  status="2xx") - latency == 3


def test_a_count_waits_for_the_commit_and_a_rollback_drops_it(db):
    before = sample("simkeep_topups_total", channel="voucher", outcome="completed")
    with pytest.raises(RuntimeError), db.transaction() as session:
        count_on_commit(session, TOPUPS.labels("voucher", "completed"))
        raise RuntimeError("rolled back")
    assert sample("simkeep_topups_total", channel="voucher", outcome="completed") == before
    with db.transaction() as session:
        count_on_commit(session, TOPUPS.labels("voucher", "completed"))
        assert sample("simkeep_topups_total", channel="voucher", outcome="completed") == before
    assert sample("simkeep_topups_total", channel="voucher", outcome="completed") == before + 1


def test_payments_are_counted_by_provider_and_outcome(db, settings):
    make_line(db, now=payments.now())
    before = {o: sample("simkeep_payments_total", provider="sandbox", outcome=o) for o in ("succeeded", "review")}
    payments.paid(db, settings, key="counted")
    payments.in_review_amount_differs(db, settings, key="counted-differs")
    after = {o: sample("simkeep_payments_total", provider="sandbox", outcome=o) for o in before}
    assert {o: after[o] - before[o] for o in before} == {"succeeded": 1, "review": 1}


def test_the_queues_are_read_from_the_database_at_scrape_time(metered, db, clock):
    make_line(db, now=clock.at)
    sim_line(db, now=clock.at, msisdn="+33612345679")  # its first provisioning command is pending
    assert metered.post("/api/v1/topups", json=TOPUP, headers={"Idempotency-Key": "q"}).status_code == 201
    clock.advance(seconds=90)
    metrics = scrape(metered)
    assert metrics[("simkeep_outbox_pending", (("channel", "sms"),))] == 1
    assert metrics[("simkeep_outbox_overdue_seconds", (("channel", "sms"),))] == 90
    assert metrics[("simkeep_provisioning_pending", ())] == 1
    assert metrics[("simkeep_provisioning_overdue_seconds", ())] == 90
    assert metrics[("simkeep_workers_alive", ())] == 0
    assert metrics[("simkeep_worker_heartbeat_age_seconds", ())] == float("inf")


def test_the_smpp_link_state_is_a_gauge_per_link():
    with Smsc() as smsc:
        sender = SmppSender(smsc.url(), receipt_hold=0.0, throttle_pause=0.0)
        link = f"127.0.0.1:{smsc.port}/{smsc.system_id}"
        try:
            assert sender.wait_bound(5)
            assert sample("simkeep_smpp_link_up", link=link) == 1
        finally:
            sender.close()
        assert sample("simkeep_smpp_link_up", link=link) == 0


def test_the_queue_queries_use_their_indexes_on_postgresql(db):
    if db.dialect != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    from simkeep.network import repository as network
    from simkeep.notification import repository as outbox
    with db.transaction(write=False) as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))  # tiny test tables: ask whether an index CAN serve
        plans = []
        for query in (outbox.pending_by_channel, network.pending_overall):
            session.info["explain"] = True
            compiled = _sql_of(session, query)
            plans.append("\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars()))
    assert "ix_outbox_pending" in plans[0] and "Seq Scan" not in plans[0]
    assert "ix_provisioning_commands_due" in plans[1] and "Seq Scan" not in plans[1]


def _sql_of(session, query) -> str:
    """The SQL a repository function runs, with its parameters inlined (captured from its one execute)."""
    captured: list[str] = []
    real = session.execute

    def capture(statement, *args, **kwargs):
        captured.append(str(statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})))
        return real(statement, *args, **kwargs)

    session.execute = capture
    try:
        query(session)
    finally:
        session.execute = real
    return captured[0]


def test_several_processes_add_up_in_multiprocess_mode(tmp_path, db):
    """The worker's and each web process's samples, kept in PROMETHEUS_MULTIPROC_DIR, are summed by one scrape."""
    shared = tmp_path / "metrics"  # a directory of its own: every *.db file in it is read as samples
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    count = textwrap.dedent("""
        from simkeep.core.metrics import TOPUPS
        TOPUPS.labels("voucher", "completed").inc(3)
    """)
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    expose = textwrap.dedent(f"""
        from datetime import timedelta
        from simkeep.db import Database
        from simkeep.ops.metrics import DatabaseCollector, exposition
        body, _ = exposition(DatabaseCollector(Database({db.url!r}), stale_after=timedelta(seconds=60)))
        print(body.decode())
    """)
    out = subprocess.run([sys.executable, "-c", expose], env=env, check=True, timeout=60, capture_output=True,
                         text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(out) for s in family.samples}
    assert samples[("simkeep_topups_total", (("channel", "voucher"), ("outcome", "completed")))] == 6
    assert samples[("simkeep_workers_alive", ())] == 0


def test_overdue_counts_from_when_a_message_is_due_not_written(db, clock):
    from simkeep.notification import service
    make_line(db, now=clock.at)
    with db.transaction() as session:
        from simkeep.notification import outbox
        outbox.enqueue(session, [outbox.Message(dedup_key="later", topic="reminder", channel="sms",
                                                recipient="+33612345678", language="fr", payload={})],
                       now=clock.at + timedelta(hours=8))  # not due for eight hours (quiet hours, say)
    with db.transaction(write=False) as session:
        [depth] = service.queue_depth(session, now=clock.at)
    assert (depth.channel, depth.pending, depth.overdue_seconds) == ("sms", 1, 0.0)
