"""The SIP user agent against SIPp, straight (no proxy): answering, prompts as RTP, keys as RFC 2833 events and SIP
INFO, barge-in, both ends hanging up, CANCEL, transfer, busy, a failing dialogue."""

from __future__ import annotations

import shutil
import threading

import pytest

from simkeep.voice import flow
from simkeep.voice.sip.rtp import FRAME_BYTES
from tests.voice.sip_harness import (
    ANSWERED,
    CALLER,
    INVITE,
    Agent,
    Ear,
    Script,
    answer_request,
    finished,
    frames_of,
    in_dialog,
    info,
    pause,
    rfc2833,
    say,
    scenario,
    sipp,
    until,
)

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="needs SIPp: make voice-deps")

GATHER = flow.Gather(max_digits=6, finish_on="#", timeout=5)


def test_a_call_is_answered_with_pcmu_and_events_and_hears_its_prompts_at_20_ms(tmp_path):
    script = Script(say("welcome", "menu", then=GATHER), say("balance", "bye"))
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, pause(1.2), rfc2833("12#"),
                                                  answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, run.errors
        until(lambda: agent.call_count() == 0, "the call to close")
    ok = run.received("SIP/2.0 200 OK")[0]
    assert "Content-Type: application/sdp" in ok
    for line in ("m=audio ", " RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
                 "a=ptime:20", "c=IN IP4 127.0.0.1"):
        assert line in ok
    assert script.calls == [flow.Call(call_id=script.calls[0].call_id, caller=CALLER, called="hotline",
                                      transport=flow.SIP)]
    assert script.events == [flow.Digits("12")]
    assert ear.heard() == [("welcome", frames_of("welcome")), ("menu", frames_of("menu")),
                           ("balance", frames_of("balance")), ("bye", frames_of("bye"))]
    packets = ear.packets
    assert {p.payload_type for p in packets} == {0} and {len(p.payload) for p in packets} == {FRAME_BYTES}
    assert len({p.ssrc for p in packets}) == 1
    assert [p.marker for p in packets] == [True] + [False] * (len(packets) - 1)
    assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in zip(packets, packets[1:], strict=False))
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in zip(packets, packets[1:], strict=False)]
    assert all(step % FRAME_BYTES == 0 and step > 0 for step in steps)
    # sent on a schedule, never faster than real time: n frames take at least (n - 1) × 20 ms to arrive
    assert packets[-1].arrived - packets[0].arrived >= (len(packets) - 1) * 0.020 - 0.005
