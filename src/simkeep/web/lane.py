"""The JSON API's database work runs on a few threads of its own.

A request's transaction is mostly Python (SQLAlchemy, psycopg) holding the interpreter lock, so more threads do not
add throughput: they queue for the lock and switch contexts. Measured with 64 concurrent top-ups on PostgreSQL,
8 threads served ~50% more than the 40 of the shared threadpool, and 2-3 threads per process across 2-3 processes
the most. The shared threadpool stays large for the pages, whose requests may wait seconds on a payment provider.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session

from simkeep.db import Database

T = TypeVar("T")


class DbLane:
    def __init__(self, db: Database, threads: int) -> None:
        self.db = db
        self._limiter = anyio.CapacityLimiter(threads)

    async def write(self, work: Callable[[Session], T]) -> T:
        """`work` in one write transaction (Database.write: a unique-key race is retried once)."""
        return await self._run(self.db.write, work)

    async def read(self, work: Callable[[Session], T]) -> T:
        return await self._run(self.db.read, work)

    async def _run(self, fn: Callable[..., T], *args) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
