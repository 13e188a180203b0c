"""The business metrics every process counts (top-ups, payments, sweeps, the SMPP link), defined here, below every
domain, so a service increments them without importing the web layer; simkeep.ops exposes them at /metrics.

A count that depends on a transaction is made with `count_on_commit`: it is kept on the session and added only when
that transaction commits (a rolled-back top-up was never made). Labels are small closed sets (channels, providers,
error codes, outcomes), never a number, an id or a free text.

With PROMETHEUS_MULTIPROC_DIR set before the process starts, prometheus-client keeps each process's values in files
there and /metrics adds them up (the worker's with the web processes'); without it the values live in memory."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from sqlalchemy import event
from sqlalchemy.orm import Session

TOPUPS = Counter("simkeep_topups", "Top-ups by channel and outcome (completed, replayed, or the refusal's error code).",
                 ["channel", "outcome"])
PAYMENTS = Counter("simkeep_payments", "Payment outcomes by provider (succeeded, review, failed, abandoned, "
                   "unavailable).", ["provider", "outcome"])
SWEEP_SECONDS = Histogram("simkeep_sweep_duration_seconds", "How long one lifecycle sweep took.",
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
# One series per SMPP link (host:port/system_id) and, in multiprocess mode, per live process holding it.
SMPP_LINK_UP = Gauge("simkeep_smpp_link_up", "1 while the SMPP link is bound, 0 while it is connecting or down.",
                     ["link"], multiprocess_mode="liveall")

_PENDING = "simkeep.metrics.pending"


def count_on_commit(session: Session, metric: MetricWrapperBase) -> None:
    """Add 1 to `metric` (a labelled counter) when this session's transaction commits; nothing if it rolls back."""
    session.info.setdefault(_PENDING, []).append(metric)


@event.listens_for(Session, "after_commit")
def _emit(session: Session) -> None:
    for metric in session.info.pop(_PENDING, ()):
        metric.inc()


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_PENDING, None)
