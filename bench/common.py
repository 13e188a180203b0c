"""Shared plumbing: reporting, sizes, PostgreSQL databases, the server under test."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SIMKEEP = ROOT / ".venv" / "bin" / "simkeep"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123456789"
console = Console(stderr=True)
RESULTS: list[str] = []


@dataclass(frozen=True)
class Sizes:
    label: str
    topup_lines: int
    run_seconds: int  # each measured run (wrk, pgbench, raw loop)
    warmup_seconds: int
    sqlite_sweep_lines: int
    pg_sweep_lines: int
    voucher_cards: int = 1_000_000  # one batch made by `simkeep voucher batch create` (SIMKEEP_BENCH_VOUCHERS overrides)


FULL = Sizes("full", 10_000, 12, 2, 1_000_000, 10_000_000,
             voucher_cards=int(os.environ.get("SIMKEEP_BENCH_VOUCHERS", 1_000_000)))
QUICK = Sizes("quick", 2_000, 4, 1, 100_000, 500_000, voucher_cards=100_000)


def report(name: str, value: float | int, unit: str) -> None:
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    line = f"bench: {name} {text} {unit}"
    RESULTS.append(line)
    print(line, flush=True)


def note(message: str) -> None:
    """Progress information on stderr, unwrapped (long SQL stays one statement per line)."""
    console.print(message, soft_wrap=True, highlight=False, markup=False)


def size_label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def pg_url(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def pg_dsn(database: str) -> str:
    return pg_url(database).replace("postgresql+psycopg://", "postgresql://")


def pg_admin() -> psycopg.Connection:
    return psycopg.connect(pg_dsn("postgres"), autocommit=True)


def database_stamp(name: str) -> str | None:
    """The build stamp a template carries as its comment; None if the database does not exist."""
    with pg_admin() as conn:
        row = conn.execute("SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
                           "WHERE datname = %s", [name]).fetchone()
    return row[0] if row else None


def recreate_database(name: str, template: str | None = None) -> float:
    """Drop and create a database (a copy of `template` if given); returns the seconds it took."""
    started = time.perf_counter()
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # FILE_COPY copies the files after a checkpoint instead of WAL-logging every block: far faster for GBs.
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY' if template
                     else f'CREATE DATABASE "{name}"')
    return time.perf_counter() - started


def drop_database(name: str) -> None:
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stamp_database(name: str, stamp: str) -> None:
    with pg_admin() as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(stamp)))


def build_stamp(kind: str, nlines: int, **extra: str) -> str:
    """What a kept database was built from; a different stamp means rebuild."""
    from alembic.script import ScriptDirectory

    from simkeep.catalog.service import read_catalog
    from simkeep.migrate import alembic_config

    schema = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return json.dumps({"kind": kind, "lines": nlines, "schema": schema, "catalog": read_catalog().version, **extra})


def read_sidecar(path: Path) -> str | None:
    stamp = path.with_suffix(".stamp")
    return stamp.read_text() if path.exists() and stamp.exists() else None


def write_sidecar(path: Path, stamp: str) -> None:
    path.with_suffix(".stamp").write_text(stamp)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(*, workers: int, env: dict[str, str], log_name: str) -> Iterator[str]:
    """`simkeep serve` as a subprocess on 127.0.0.1; yields its base URL and always stops it."""
    port = free_port()
    env = {**os.environ, "SIMKEEP_HOST": "127.0.0.1", "SIMKEEP_PORT": str(port),
           "SIMKEEP_ADMIN_TOKEN": ADMIN_TOKEN, "SIMKEEP_LOG_LEVEL": "warning",
           # A production start: strong secrets of its own, and the sandbox switched on and routed explicitly.
           "SIMKEEP_SECRET_KEY": secrets.token_urlsafe(48), "SIMKEEP_SANDBOX_ENABLED": "true",
           "SIMKEEP_SANDBOX_WEBHOOK_SECRET": f"whsec_{secrets.token_urlsafe(32)}",
           "SIMKEEP_PAYMENT_ROUTES": json.dumps({"*": {"card": "sandbox"}}), **env}
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / f"{log_name}.log", "wb") as log:
        # Its own process group: `serve --workers 2` forks children that must stop with it.
        proc = subprocess.Popen([str(SIMKEEP), "serve", "--workers", str(workers)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, proc)
            yield base
        finally:
            stop_group(proc)


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see bench/out/*.log")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {base} not healthy after {timeout} s")


def stop_group(proc: subprocess.Popen) -> None:
    _signal_group(proc, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=15)
    _signal_group(proc, signal.SIGKILL)  # whatever is left of the group, e.g. a stuck spawned worker
    proc.wait(timeout=5)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)
