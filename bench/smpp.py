"""SMS throughput over SMPP with throttling off: SmppSender (encoding, segmentation, response correlation, the
session and listener threads) against the test SMSC (tests/notification/smsc.py) on 127.0.0.1, next to a bare
smpplib client writing the same submit_sm PDUs in a loop (write one, read its response) to the same SMSC.
Both wait for each submit_sm_resp before the next submit, as a sender in the worker's single thread does."""

from __future__ import annotations

import time
import uuid

import smpplib.client
from tests.notification.smsc import Smsc

from bench.common import Sizes, note, report
from simkeep.notification.senders.base import Outgoing
from simkeep.notification.senders.smpp import SmppSender, split_text

TEXT = ("Your number +33612345678 will be lost after 15 April 2027 unless you recharge. "
        "Recharge now to keep it: https://recharge.example/r/33612345678")
WARMUP = 100


def bench_smpp(sizes: Sizes) -> None:
    count = 500 if sizes.label == "quick" else 5_000
    with Smsc(record=False) as smsc:
        ours = _ours(smsc, count)
        raw = _raw(smsc, count)
    report("smpp_throughput", round(ours), "msg/s")
    report("smpp_raw", round(raw), "msg/s")
    report("smpp_ratio", round(ours / raw, 2), "x")


def _ours(smsc: Smsc, count: int) -> float:
    sender = SmppSender(smsc.url(), rate_per_second=0)
    try:
        if not sender.wait_bound(10):
            raise RuntimeError("SmppSender did not bind to the test SMSC")
        messages = [Outgoing(id=uuid.uuid4(), topic="reminder", channel="sms", recipient="+33612345678",
                             language="en", text=TEXT, payload={}, attempt=1) for _ in range(WARMUP + count)]
        for message in messages[:WARMUP]:
            sender.send(message)
        started = time.perf_counter()
        for message in messages[WARMUP:]:
            sender.send(message)
        elapsed = time.perf_counter() - started
    finally:
        sender.close()
    note(f"smpp: SmppSender sent {count} single-part GSM-7 messages in {elapsed:.2f} s")
    return count / elapsed


def _raw(smsc: Smsc, count: int) -> float:
    [short_message] = split_text(TEXT).chunks
    client = smpplib.client.Client("127.0.0.1", smsc.port, allow_unknown_opt_params=True)
    client.connect()
    try:
        client.bind_transceiver(system_id=smsc.system_id, password=smsc.password)

        def submit() -> None:
            client.send_message(source_addr_ton=5, source_addr_npi=0, source_addr="simkeep", dest_addr_ton=1,
                                dest_addr_npi=1, destination_addr="33612345678", esm_class=0, registered_delivery=1,
                                data_coding=0, short_message=short_message)
            response = client.read_pdu()
            assert response.command == "submit_sm_resp" and response.status == 0, response.command

        for _ in range(WARMUP):
            submit()
        started = time.perf_counter()
        for _ in range(count):
            submit()
        elapsed = time.perf_counter() - started
        client.unbind()
    finally:
        client.disconnect()
    note(f"smpp: bare smpplib client sent {count} submit_sm in {elapsed:.2f} s")
    return count / elapsed
