"""The webhook endpoint writes to the database in the threadpool, never on the event loop: while one delivery's
write is held inside the database call, the same server still answers another request."""

from __future__ import annotations

import json
import threading
import time

import httpx

from simkeep.core.signing import sign
from simkeep.payment import service
from tests.conftest import SANDBOX_SECRET

EVENT = {"id": "evt_held", "type": "payment.succeeded",
         "data": {"ref": "sbx_unknown", "amount_minor": 1000, "currency": "EUR"}}
BOUND = 30  # seconds: only reached when the server is stuck, and then the test fails rather than hangs


def test_a_held_webhook_write_does_not_block_the_event_loop(live_server, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    store_event = service.store_event

    def held(session, **kwargs):
        entered.set()
        assert release.wait(BOUND), "the test never released the write"
        return store_event(session, **kwargs)

    monkeypatch.setattr("simkeep.payment.service.store_event", held)
    body = json.dumps(EVENT).encode()
    headers = {"simkeep-signature": sign(SANDBOX_SECRET, body, int(time.time())), "content-type": "application/json"}
    answers: list[httpx.Response] = []
    delivery = threading.Thread(target=lambda: answers.append(
        httpx.post(f"{live_server}/webhooks/sandbox", content=body, headers=headers, timeout=BOUND)))
    delivery.start()
    try:
        assert entered.wait(BOUND), "the webhook never reached its database write"
        # The write is held: an event loop blocked by it could not answer this.
        assert httpx.get(f"{live_server}/healthz", timeout=BOUND).json()["status"] == "ok"
        assert not answers  # the delivery is still waiting on its write
    finally:
        release.set()
        delivery.join(BOUND)
    [answer] = answers
    assert (answer.status_code, answer.json()) == (200, {"received": True, "duplicate": False})
