"""/metrics: the Prometheus text exposition of this deployment.

What is counted in processes (requests, top-ups, payments, sweeps, the SMPP link: core/metrics.py and ops/http.py)
comes from this process, or, with PROMETHEUS_MULTIPROC_DIR set, from every process that shares that directory (the
web processes and the worker), added up. What is stored (the outbox, provisioning commands, worker heartbeats) is
read from the database at scrape time by `DatabaseCollector`, three small indexed queries, so every web process
answers the same.

Who may scrape: a connection from this machine with no proxy header (a reverse proxy on this machine adds
X-Forwarded-For, so what comes through it is not "local"), or anyone with `Authorization: Bearer
SIMKEEP_METRICS_TOKEN`. The token is compared as SHA-256 digests with `hmac.compare_digest`: the time taken says
nothing about how much of it matched, nor its length."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from simkeep.core import clock
from simkeep.db import Database
from simkeep.network import service as network
from simkeep.notification import service as notification
from simkeep.ops import heartbeat

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
PROXY_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


class DatabaseCollector(Collector):
    """Queues and workers as the database holds them, at the moment of the scrape."""

    def __init__(self, db: Database, *, stale_after: timedelta) -> None:
        self.db = db
        self.stale_after = stale_after

    def collect(self) -> Iterator[Metric]:
        now = clock.now()
        with self.db.transaction(write=False) as session:
            queues = notification.queue_depth(session, now=now)
            commands, commands_overdue = network.pending_commands(session, now=now)
            workers = heartbeat.alive(session, now=now, stale_after=self.stale_after)
            newest = heartbeat.newest(session)
        depth = GaugeMetricFamily("simkeep_outbox_pending", "Messages waiting in the outbox, by channel.",
                                  labels=["channel"])
        overdue = GaugeMetricFamily("simkeep_outbox_overdue_seconds", "How long the most overdue pending message "
                                    "has been due, by channel (0: none is due).", labels=["channel"])
        for queue in queues:
            depth.add_metric([queue.channel], queue.pending)
            overdue.add_metric([queue.channel], queue.overdue_seconds)
        yield depth
        yield overdue
        yield GaugeMetricFamily("simkeep_provisioning_pending", "Provisioning commands waiting for the network.",
                                value=commands)
        yield GaugeMetricFamily("simkeep_provisioning_overdue_seconds", "How long the most overdue provisioning "
                                "command has been due (0: none is due).", value=commands_overdue)
        yield GaugeMetricFamily("simkeep_workers_alive", "Worker processes whose heartbeat is recent.",
                                value=len(workers))
        age = (now - newest.last_beat_at).total_seconds() if newest else float("inf")
        yield GaugeMetricFamily("simkeep_worker_heartbeat_age_seconds", "Seconds since the newest worker "
                                "heartbeat (+Inf: none ever).", value=age)
        sweeps = [w.last_sweep_seconds for w in workers if w.last_sweep_seconds is not None]
        if sweeps:
            yield GaugeMetricFamily("simkeep_worker_last_sweep_seconds", "The longest last sweep among live workers.",
                                    value=max(sweeps))


class _Scrape:
    """What one scrape exposes: the processes' metrics, then the database's."""

    def __init__(self, processes, database: Collector) -> None:
        self.processes, self.database = processes, database

    def collect(self) -> Iterator[Metric]:
        yield from self.processes.collect()
        yield from self.database.collect()


def exposition(database: Collector, accept: str = "") -> tuple[bytes, str]:
    """(body, content type) in the format the scraper asks for (`Accept`: OpenMetrics, or the text format 0.0.4
    that every Prometheus reads when it says nothing)."""
    if os.environ.get(MULTIPROCESS_DIR):
        processes = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    encode, content_type = choose_encoder(accept)
    return encode(_Scrape(processes, database)), content_type


def is_local(client: tuple[str, int] | None, headers: list[tuple[bytes, bytes]]) -> bool:
    if client is None or any(name in PROXY_HEADERS for name, _ in headers):
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def token_matches(authorization: str | None, token: str | None) -> bool:
    if not token or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(), hashlib.sha256(token.encode()).digest())


def process_stopped(pid: int) -> None:
    """In multiprocess mode, drop a stopped process's live gauges (the SMPP link it held) from the sums."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)
