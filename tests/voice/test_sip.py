"""The SIP user agent against SIPp, straight (no proxy): answering, prompts as RTP, keys as RFC 2833 events and SIP
INFO, barge-in, both ends hanging up, CANCEL, transfer, busy, a failing dialogue."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
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
    free_udp_port,
    in_dialog,
    info,
    pause,
    rfc2833,
    say,
    scenario,
    sipp,
    until,
)

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
    assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in itertools.pairwise(packets))
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    assert all(step % FRAME_BYTES == 0 and step > 0 for step in steps)
    # sent on a schedule, never faster than real time: n frames take at least (n - 1) × 20 ms to arrive
    assert packets[-1].arrived - packets[0].arrived >= (len(packets) - 1) * 0.020 - 0.005


def test_keys_as_rfc_2833_events_arrive_in_order_each_once_even_a_key_pressed_twice(tmp_path):
    script = Script(say("welcome", then=GATHER), say("bye"))
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, pause(0.5), rfc2833("9337*#"),
                                                  answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, (run.errors, script.events)
        until(lambda: agent.call_count() == 0, "the call to close")
    assert script.events == [flow.Digits("9337*")]


@pytest.mark.parametrize("relay", [True, False], ids=["dtmf-relay", "dtmf"])
def test_keys_as_sip_info_arrive_in_order(tmp_path, relay):
    script = Script(say("welcome", then=GATHER), say("bye"))
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, pause(0.5), info("4*40#", 2, relay=relay),
                                                  answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, run.errors
        until(lambda: agent.call_count() == 0, "the call to close")
    assert script.events == [flow.Digits("4*40")]
    assert len(run.received("SIP/2.0 200 OK")) == 1 + 5  # the INVITE's, then one per INFO


def test_a_key_stops_the_prompts_and_starts_the_input(tmp_path):
    script = Script(say("long", "menu", then=flow.Gather(max_digits=1)), say("balance", "bye"))
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, pause(1), rfc2833("2"),
                                                  answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, run.errors
        until(lambda: agent.call_count() == 0, "the call to close")
    assert script.events == [flow.Digits("2")]
    heard = ear.heard()
    assert [name for name, _ in heard] == ["long", "balance", "bye"]  # "menu" never played
    assert heard[0][1] < frames_of("long") // 2
    assert agent.observed.named("voice.played")[0]["interrupted"] is True


def test_the_caller_hanging_up_mid_prompt_is_heard_by_the_dialogue_and_the_audio_stops(tmp_path):
    script = Script(say("long", then=GATHER))
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, pause(0.6), in_dialog("BYE", 2)),
                   ear=ear.port)
        assert run.returncode == 0, run.errors
        until(script.ended.is_set, "the dialogue to hear the hang-up")
        until(lambda: agent.call_count() == 0, "the call to close")
        sent = len(ear.packets)
        assert ear.heard()[0][1] < frames_of("long") // 2
    assert script.events == [flow.HungUp()]
    assert len(ear.packets) == sent  # nothing after the call closed
    assert run.received("BYE") == []  # we did not hang up a call that was over


def test_silence_is_reported_with_the_keys_typed_before_it(tmp_path):
    script = Script(say("welcome", then=flow.Gather(max_digits=4, timeout=0.8)), say("bye"))
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, pause(0.4), info("7", 2),
                                                  answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, run.errors
        until(lambda: agent.call_count() == 0, "the call to close")
    assert script.events == [flow.Silence("7")]


def test_a_cancelled_call_is_never_answered_and_the_dialogue_hears_it_ended(tmp_path):
    gate = threading.Event()
    script = Script(say("welcome", then=GATHER), start_gate=gate)
    cancel = """<recv response="100"/>
<send>
  <![CDATA[
    CANCEL sip:[hotline]@[remote_ip]:[remote_port] SIP/2.0
    [last_Via:]
    From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
    To: <sip:[hotline]@[remote_ip]:[remote_port]>
    Call-ID: [call_id]
    CSeq: 1 CANCEL
    Max-Forwards: 70
    Content-Length: 0
  ]]>
</send>
<recv response="200"/>
<recv response="487"/>
<send>
  <![CDATA[
    ACK sip:[hotline]@[remote_ip]:[remote_port] SIP/2.0
    [last_Via:]
    From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
    [last_To:]
    Call-ID: [call_id]
    CSeq: 1 ACK
    Max-Forwards: 70
    Content-Length: 0
  ]]>
</send>
"""
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, cancel), ear=ear.port)
        gate.set()
        assert run.returncode == 0, run.errors
        until(script.ended.is_set, "the dialogue to hear the call ended")
        until(lambda: agent.call_count() == 0, "the call to close")
    assert script.events == [flow.HungUp()]
    assert ear.packets == []
    assert run.received("SIP/2.0 200 OK") and not any("application/sdp" in m for m in run.received("SIP/2.0 200"))


def test_a_transfer_refers_the_caller_to_the_agent_then_hangs_up(tmp_path):
    script = Script(say("menu", then=flow.Transfer("sip:agent@127.0.0.1:5999")))
    notify = in_dialog("NOTIFY", 2, "SIP/2.0 200 OK", "message/sipfrag").replace(
        "Max-Forwards: 70", "Max-Forwards: 70\n    Event: refer\n    Subscription-State: terminated;reason=noresource"
    ).replace("[last_To:]", "To: [$ours]")
    refer = answer_request("REFER", "202 Accepted").replace(
        'timeout="20000"/>', 'timeout="20000"><action><ereg regexp=".*" search_in="hdr" header="From:" '
        'assign_to="ours"/></action></recv>')
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, refer, notify, answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, run.errors
        until(lambda: agent.call_count() == 0, "the call to close")
    refer = run.received("REFER")[0]
    assert "Refer-To: <sip:agent@127.0.0.1:5999>" in refer
    assert ear.heard() == [("menu", frames_of("menu"))]
    assert script.events == []  # the dialogue said the last word: no HungUp after a transfer
    assert agent.observed.named("voice.transferred")[0]["notify_status"] == 200


def test_beyond_the_maximum_of_calls_the_hotline_is_busy(tmp_path):
    script = Script(say("long", then=GATHER), say("bye"))
    with Ear() as ear, Agent(script, max_calls=1) as agent:
        first = sipp(tmp_path / "first", agent.port, scenario(INVITE, ANSWERED, pause(3), in_dialog("BYE", 2)),
                     ear=ear.port, background=True)
        until(lambda: agent.call_count() == 1, "the first call")
        busy = sipp(tmp_path, agent.port, scenario(INVITE, '<recv response="100" optional="true"/>\n'
                                                   '<recv response="486"/>\n' + ACK_FAILURE), ear=ear.port)
        assert busy.returncode == 0, busy.errors
        assert finished(first, tmp_path / "first").returncode == 0
        until(lambda: agent.call_count() == 0, "the call to close")
    assert len(script.calls) == 1
    assert agent.observed.named("voice.call_refused")[0]["status"] == 486


def test_a_dialogue_that_fails_plays_the_technical_problem_in_three_languages_and_hangs_up(tmp_path):
    script = Script(fail=True)
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, run.errors
        until(lambda: agent.call_count() == 0, "the call to close")
    assert ear.heard() == [("technical_problem", 3 * frames_of("technical_problem"))]  # zh_CN, fr, en


ACK_FAILURE = """<send>
  <![CDATA[
    ACK sip:[hotline]@[remote_ip]:[remote_port] SIP/2.0
    [last_Via:]
    From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
    [last_To:]
    Call-ID: [call_id]
    CSeq: 1 ACK
    Max-Forwards: 70
    Content-Length: 0
  ]]>
</send>
"""


def test_a_caller_from_an_untrusted_address_is_a_withheld_number_whatever_its_headers_say(tmp_path):
    script = Script(say("bye"))
    with Ear() as ear, Agent(script, trusted_peers=()) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, run.errors
        until(lambda: agent.call_count() == 0, "the call to close")
    assert script.calls[0].caller is None


REGISTRAR = """<recv request="REGISTER"/>
<send>
  <![CDATA[
    SIP/2.0 401 Unauthorized
    [last_Via:]
    [last_From:]
    [last_To:];tag=[pid]reg
    [last_Call-ID:]
    [last_CSeq:]
    WWW-Authenticate: Digest realm="simkeep.test", nonce="[pid]n0nce", qop="auth", algorithm=MD5
    Content-Length: 0
  ]]>
</send>
<recv request="REGISTER"><action><verifyauth assign_to="valid" username="hotline" password="s3cret-pass"/>
</action></recv>
<nop test="valid" next="good"/>
<recv request="NEVER" timeout="100"/>
<label id="good"/>
<send>
  <![CDATA[
    SIP/2.0 200 OK
    [last_Via:]
    [last_From:]
    [last_To:];tag=[pid]reg
    [last_Call-ID:]
    [last_CSeq:]
    [last_Contact:];expires=120
    Content-Length: 0
  ]]>
</send>
<recv request="REGISTER"><action><ereg regexp="Expires: 0" search_in="msg" check_it="true" assign_to="gone"/>
</action></recv>
<send>
  <![CDATA[
    SIP/2.0 200 OK
    [last_Via:]
    [last_From:]
    [last_To:];tag=[pid]reg
    [last_Call-ID:]
    [last_CSeq:]
    Content-Length: 0
  ]]>
</send>
<Reference variables="gone"/>
"""


def test_the_hotline_registers_answering_the_digest_challenge_and_unregisters_when_stopping(tmp_path):
    port = free_udp_port()
    registrar = subprocess.Popen(
        ["sipp", "-sf", str(_write(tmp_path / "registrar.xml", scenario(REGISTRAR))), "-p", str(port),
         "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error", "-trace_msg",
         "-message_file", str(tmp_path / "registrar.messages"), "-trace_err", "-error_file",
         str(tmp_path / "registrar.errors")], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with Agent(Script(), registrar=f"sip:127.0.0.1:{port}", user="hotline", password="s3cret-pass") as agent:
        registration = agent.agent.registration
        assert registration is not None
        until(registration.registered.is_set, "the registration")
        assert registration.expires == 120
    assert registrar.wait(20) == 0, (tmp_path / "registrar.errors").read_text(errors="replace")
    registers = [m for m in (tmp_path / "registrar.messages").read_text().split("-----")
                 if "message received" in m and "REGISTER sip:127.0.0.1" in m]
    assert len(registers) == 3
    assert 'username="hotline"' in registers[1] and 'realm="simkeep.test"' in registers[1]
    assert "s3cret" not in "".join(registers)  # the password never travels
    assert f"Contact: <sip:hotline@127.0.0.1:{agent.port}>" in registers[0]


def _write(path, text: str):
    path.write_text(text)
    return path


def test_sigterm_hangs_up_every_call_tells_the_dialogue_and_exits_0(tmp_path):
    port, log = free_udp_port(), tmp_path / "voice.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "tests.voice.sip_process", str(port)], stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        until(lambda: "voice.listening" in log.read_text(), "the voice process to listen")
        with Ear() as ear:
            call = sipp(tmp_path, port, scenario(INVITE, ANSWERED, answer_request("BYE")), ear=ear.port,
                        background=True)
            until(lambda: ear.packets, "the call's audio")
            process.send_signal(signal.SIGTERM)
            assert process.wait(20) == 0
            assert finished(call, tmp_path).returncode == 0
    finally:
        process.kill()
    assert "dialogue heard: [HungUp()]" in log.read_text()
