"""`simkeep worker` answers USSD over its SMPP link: the listener wakes the delivery loop, so the screen goes out
at once, although the worker would otherwise sleep for an hour between rounds."""

from __future__ import annotations

import signal

from simkeep.core import clock
from tests.factories.lines import make_line, top_up
from tests.processes import simkeep_env, start, wait_until
from tests.ussd import OPEN, REQUEST, session_info
from tests.ussd.test_session import MENU


def test_the_worker_answers_a_dial_without_waiting_for_its_next_round(db, smsc, tmp_path):
    make_line(db, language="en", now=clock.now())
    top_up(db, now=clock.now())
    env = simkeep_env(db.url, tmp_path, SIMKEEP_SMS_SENDER="smpp", SIMKEEP_SMPP_URL=smsc.url(),
                      SIMKEEP_WORKER_POLL_SECONDS="3600", SIMKEEP_SWEEP_INTERVAL_SECONDS="3600")
    worker = start(["worker"], env, tmp_path / "worker.log")
    try:
        wait_until(lambda: smsc.bound, what="the worker's bind")
        wait_until(lambda: "worker.started" in (tmp_path / "worker.log").read_text(), what="the first round")
        assert smsc.deliver_ussd("33612345678", "*100#", OPEN, session_info(5, 0)) == 0
        answer = wait_until(lambda: smsc.ussd_answers, what="the menu")[0]
        assert (answer.text, answer.ussd_service_op, answer.its_session_info) == (
            MENU["en"], REQUEST, session_info(5, 1))
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
