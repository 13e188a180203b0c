"""A worker killed with SIGKILL in the middle of sending loses nothing and duplicates at most that one message,
which carries the same id the second time."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from simkeep.notification import events
from simkeep.notification.models import OutboxMessage
from tests.conftest import TEST_SECRET
from tests.factories.lines import make_line, top_up
from tests.factories.payments import now


class SlowReceiver:
    """Holds the first request until released, answers the others at once; records every Webhook-Id."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.first_arrived, self.release = threading.Event(), threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.ids.append(self.headers["Webhook-Id"])
                if len(receiver.ids) == 1:
                    receiver.first_arrived.set()
                    receiver.release.wait(30)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def start_worker(db, tmp_path) -> subprocess.Popen:
    env = {**os.environ, "SIMKEEP_DATABASE_URL": db.url, "SIMKEEP_DATA_DIR": str(tmp_path), "SIMKEEP_SECRET_KEY": TEST_SECRET,
           "SIMKEEP_OUTBOX_LEASE_SECONDS": "2", "SIMKEEP_WORKER_POLL_SECONDS": "0.1",
           "SIMKEEP_SWEEP_INTERVAL_SECONDS": "3600"}
    return subprocess.Popen([sys.executable, "-m", "simkeep", "worker"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def all_sent(db) -> bool:
    with db.transaction(write=False) as session:
        return all(m.status == "sent" for m in session.scalars(select(OutboxMessage)))


def test_sigkill_mid_send_loses_nothing_and_repeats_only_the_message_in_flight(db, tmp_path):
    receiver = SlowReceiver()
    with db.transaction() as session:
        events.add_endpoint(session, url=receiver.url, topics=["topup.completed"], now=now())
    make_line(db, now=now())
    top_up(db, now=now())  # an SMS (file sender) and an event for the receiver
    first = start_worker(db, tmp_path)
    try:
        assert receiver.first_arrived.wait(30), "the worker never started sending"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        receiver.release.set()
    second = start_worker(db, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not (all_sent(db) and len(receiver.ids) >= 2) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
        receiver.server.shutdown()
    assert all_sent(db)
    assert len(receiver.ids) == 2 and receiver.ids[0] == receiver.ids[1]  # the one in flight, same id
    log = tmp_path / "messages.log"
    sms = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    assert [m["topic"] for m in sms] == ["topup.completed"]  # everything else exactly once
