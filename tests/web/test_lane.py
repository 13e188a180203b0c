import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
from sqlalchemy import text

from simkeep.web.lane import DbLane


def run(main):
    """anyio.run on a thread of its own: the browser tests leave Playwright's event loop on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, main).result()


def test_lane_runs_at_most_its_threads_at_once(db):
    lane = DbLane(db, threads=2)
    lock, both_in = threading.Lock(), threading.Barrier(2, timeout=30)
    active = peak = 0

    def work(session):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        both_in.wait()  # two must be inside together, or this times out
        with lock:
            active -= 1
        return session.execute(text("SELECT 1")).scalar()

    async def storm() -> list[int]:
        results = []

        async def one() -> None:
            results.append(await lane.read(work))

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one)
        return results

    assert run(storm) == [1] * 8
    assert peak == 2
    # A second event loop (a restarted server, a new test client) gets the same bound.
    peak = 0
    assert run(storm) == [1] * 8
    assert peak == 2


def test_lane_write_commits_and_read_sees_it(db):
    lane = DbLane(db, threads=1)

    async def round_trip() -> int:
        await lane.write(lambda s: s.execute(text("CREATE TABLE IF NOT EXISTS lane_probe (n INTEGER)")))
        await lane.write(lambda s: s.execute(text("INSERT INTO lane_probe VALUES (7)")))
        return await lane.read(lambda s: s.execute(text("SELECT sum(n) FROM lane_probe")).scalar())

    assert run(round_trip) == 7
