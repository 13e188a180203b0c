"""What observing costs: the request middleware (request id, access-log line, latency histogram) on an echo route,
and one /metrics scrape with 100,000 messages pending in a PostgreSQL outbox of a million.

The middleware is measured in-process, the ASGI app called directly in a loop (no sockets: the HTTP stack would hide
it in noise), with and without `Observed`, rounds alternated so that load from anything else on the machine falls on
both alike; the access-log lines are rendered to JSON and written to /dev/null, as they would be to a journal. The
scrape is `ops.metrics.exposition` (the process's metrics and the database's gauges); its baseline is the same
three queries sent as raw SQL with psycopg in the same run."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import timedelta

import psycopg
import structlog
from fastapi import FastAPI

from bench.common import Sizes, note, pg_dsn, pg_url, recreate_database, report
from simkeep.core import logs
from simkeep.db import Database
from simkeep.migrate import upgrade
from simkeep.ops.http import Observed
from simkeep.ops.metrics import DatabaseCollector, exposition

DATABASE = "simkeep_bench_metrics"
RAW_QUERIES = (
    "SELECT channel, count(*), min(next_attempt_at) FROM outbox WHERE status = 'pending' GROUP BY channel "
    "ORDER BY channel",
    "SELECT count(*), min(next_attempt_at) FROM provisioning_commands WHERE status = 'pending'",
    "SELECT * FROM worker_heartbeats ORDER BY last_beat_at DESC, id DESC LIMIT 1",
)


async def bare(scope, receive, send) -> None:
    """The least an ASGI app can do: what `Observed` adds to it is the middleware's own cost."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def echo_app(observed: bool):
    app = FastAPI()

    @app.get("/echo/{word}")
    async def echo(word: str) -> dict:
        return {"word": word}

    return Observed(app) if observed else app


async def _requests(app, n: int) -> float:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/echo/hello", "raw_path": b"/echo/hello", "root_path": "", "query_string": b"",
             "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message):
        return None

    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return time.perf_counter() - started


def bench_middleware(sizes: Sizes) -> None:
    logs.configure("info")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - open for the whole measure
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(devnull))
    n = 2_000 if sizes.label == "quick" else 10_000
    apps = {"echo": echo_app(False), "echo_observed": echo_app(True), "bare": bare, "bare_observed": Observed(bare)}
    elapsed = dict.fromkeys(apps, 0.0)
    for app in apps.values():  # warm up outside the measure
        asyncio.run(_requests(app, 200))
    for _ in range(5):
        for name, app in apps.items():
            elapsed[name] += asyncio.run(_requests(app, n))
    devnull.close()
    per_request = {name: seconds / (5 * n) for name, seconds in elapsed.items()}
    report("metrics_echo_without_middleware", 1 / per_request["echo"], "req/s (in-process ASGI)")
    report("metrics_echo_with_middleware", 1 / per_request["echo_observed"], "req/s (in-process ASGI)")
    report("metrics_middleware_cost", (per_request["bare_observed"] - per_request["bare"]) * 1e6,
           "µs per request (around a bare ASGI app)")
    note(f"load average {os.getloadavg()[0]:.1f} after the middleware runs")


def fill_outbox(pending: int, sent: int) -> None:
    with psycopg.connect(pg_dsn(DATABASE), autocommit=True) as conn:
        for status, count, offset in (("sent", sent, 0), ("pending", pending, sent)):
            conn.execute(
                "INSERT INTO outbox (id, dedup_key, topic, channel, recipient, language, payload, status, attempts, "
                "next_attempt_at, created_at) "
                "SELECT gen_random_uuid(), 'bench:' || g, 'reminder', "
                "(ARRAY['sms','sms','sms','email','event'])[1 + g %% 5], '+3361' || lpad(g::text, 7, '0'), 'fr', "
                "'{}'::jsonb, %s, 0, now() - (g %% 3600) * interval '1 second', now() - interval '1 hour' "
                "FROM generate_series(%s, %s) AS g", (status, offset + 1, offset + count))
        conn.execute("VACUUM ANALYZE outbox")


def bench_metrics_pg(sizes: Sizes) -> None:
    bench_middleware(sizes)
    pending, sent = (100_000, 100_000) if sizes.label == "quick" else (100_000, 900_000)
    recreate_database(DATABASE)
    upgrade(pg_url(DATABASE))
    started = time.perf_counter()
    fill_outbox(pending, sent)
    note(f"outbox: {pending:,} pending and {sent:,} sent messages in {time.perf_counter() - started:.1f} s")
    db = Database(pg_url(DATABASE))
    collector = DatabaseCollector(db, stale_after=timedelta(seconds=120))
    with psycopg.connect(pg_dsn(DATABASE)) as conn:
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {RAW_QUERIES[0]}"))
        note(plan)
        scrapes, raws = [], []
        exposition(collector)  # warm: the pool connects, the plans are made
        for _ in range(30):
            started = time.perf_counter()
            body, _type = exposition(collector)
            scrapes.append(time.perf_counter() - started)
            started = time.perf_counter()
            for query in RAW_QUERIES:
                conn.execute(query).fetchall()
            conn.rollback()
            raws.append(time.perf_counter() - started)
    db.dispose()
    assert b'simkeep_outbox_pending{channel="sms"} 60000.0' in body, body[:2000]
    report("metrics_scrape_100k_pending_pg_p50", statistics.median(scrapes) * 1000, "ms")
    report("metrics_scrape_raw_sql_pg_p50", statistics.median(raws) * 1000, "ms (the same queries, psycopg)")
    report("metrics_scrape_index_only", float("Index Only Scan using ix_outbox_pending" in plan), "(1: yes)")
