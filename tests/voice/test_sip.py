"""The SIP user agent against SIPp, straight (no proxy): answering, prompts as RTP, keys as RFC 2833 events and SIP
INFO, barge-in, both ends hanging up, CANCEL, transfer, busy, a failing dialogue."""

from __future__ import annotations

import itertools
import json
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from simkeep.core import clock
from simkeep.voice import flow
from simkeep.voice.sip.message import Message, NameAddr, new_branch, parse, response
from simkeep.voice.sip.rtp import FRAME_BYTES, FRAME_SECONDS, MAX_CATCH_UP
from tests.factories.lines import make_line
from tests.processes import simkeep_env, start
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
        assert run.returncode == 0, str(run)
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
    # sent on a schedule, never ahead of real time: n frames take at least (n - 1) × 20 ms to arrive, less the
    # frames a stalled loop may send at once to catch up
    assert packets[-1].arrived - packets[0].arrived >= (len(packets) - 1 - MAX_CATCH_UP) * FRAME_SECONDS


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
        assert run.returncode == 0, str(run)
        until(lambda: agent.call_count() == 0, "the call to close")
    assert script.events == [flow.Digits("4*40")]
    assert len(run.received("SIP/2.0 200 OK")) == 1 + 5  # the INVITE's, then one per INFO


def test_a_key_stops_the_prompts_and_starts_the_input(tmp_path):
    script = Script(say("long", "menu", then=flow.Gather(max_digits=1)), say("balance", "bye"))
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, pause(1), rfc2833("2"),
                                                  answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, str(run)
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
        assert run.returncode == 0, str(run)
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
        assert run.returncode == 0, str(run)
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
        assert run.returncode == 0, str(run)
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
        assert run.returncode == 0, str(run)
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
        assert busy.returncode == 0, str(busy)
        assert finished(first, tmp_path / "first").returncode == 0
        until(lambda: agent.call_count() == 0, "the call to close")
    assert len(script.calls) == 1
    assert agent.observed.named("voice.call_refused")[0]["status"] == 486


def test_a_dialogue_that_fails_plays_the_technical_problem_in_three_languages_and_hangs_up(tmp_path):
    script = Script(fail=True)
    with Ear() as ear, Agent(script) as agent:
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, answer_request("BYE")), ear=ear.port)
        assert run.returncode == 0, str(run)
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
        assert run.returncode == 0, str(run)
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


def test_our_200_is_repeated_until_the_ack_and_a_repeated_request_acts_once():
    script = Script(say("welcome", then=GATHER), say("bye"))
    with Ear() as ear, Agent(script) as agent, RawPhone(agent.port, ear.port) as phone:
        invite = phone.invite()
        assert phone.receive().status == 100
        ok = phone.receive()
        assert ok.status == 200 and phone.receive(timeout=5).to_bytes() == ok.to_bytes()  # T1 later, the same
        phone.send(phone.in_dialog(invite, ok, "ACK", 1))
        info = phone.in_dialog(invite, ok, "INFO", 2, "Signal=8", "application/dtmf-relay")
        phone.send(info)
        first = phone.receive()
        phone.send(info)  # a retransmission: the same branch
        assert phone.receive().to_bytes() == first.to_bytes()
        phone.send(phone.in_dialog(invite, ok, "INFO", 3, "#", "application/dtmf"))
        assert phone.receive().status == 200
        bye = phone.receive()
        assert bye.method == "BYE"
        phone.send(response(bye, 200))
        until(lambda: agent.call_count() == 0, "the call to close")
    assert script.events == [flow.Digits("8")]


def test_keys_that_arrive_with_the_hang_up_are_still_heard_before_it():
    # a caller types 42# and hangs up at once: on a loaded machine one turn of the loop reads the last INFO and the
    # BYE together. The loop is held (a blocking call in it) while all of them arrive, so that is what happens here.
    script = Script(say("welcome", then=GATHER), say("bye"))
    with Ear() as ear, Agent(script) as agent, RawPhone(agent.port, ear.port) as phone:
        invite = phone.invite()
        assert phone.receive().status == 100
        ok = phone.receive()
        phone.send(phone.in_dialog(invite, ok, "ACK", 1))
        for cseq, key in enumerate("42", start=2):
            phone.send(phone.in_dialog(invite, ok, "INFO", cseq, f"Signal={key}", "application/dtmf-relay"))
            assert phone.receive().status == 200
        time.sleep(0.2)  # read: the menu waits for the next key
        held = threading.Event()
        agent.loop.call_soon_threadsafe(lambda: (held.set(), time.sleep(0.5)))
        held.wait(5)
        phone.send(phone.in_dialog(invite, ok, "INFO", 4, "Signal=#", "application/dtmf-relay"))
        phone.send(phone.in_dialog(invite, ok, "BYE", 5))
        until(script.ended.is_set, "the dialogue to hear the hang-up")
    assert script.events == [flow.Digits("42"), flow.HungUp()]


def test_a_call_never_acknowledged_is_lost_ended_with_bye_and_the_dialogue_hears_it():
    script = Script(say("long", then=GATHER))
    with Ear() as ear, Agent(script, t1=0.05) as agent, RawPhone(agent.port, ear.port) as phone:
        phone.invite()
        received = [phone.receive()]
        while received[-1].method != "BYE":  # 200s, repeated for 64·T1, then our BYE
            received.append(phone.receive())
        phone.send(response(received[-1], 200))
        until(script.ended.is_set, "the dialogue to hear the call is lost")
    assert [m.status for m in received[:-1]] == [100] + [200] * (len(received) - 2)
    assert len(received) - 2 >= 5  # 0, T1, 3·T1, 7·T1, 15·T1, 31·T1 ... (the last ones T2 apart)
    assert script.events == [flow.HungUp()]


def test_options_are_answered_in_and_out_of_a_call_and_a_reinvite_keeps_the_same_answer(tmp_path):
    script = Script(say("long", then=GATHER))
    reinvite = in_dialog("INVITE", 2, SDP, "application/sdp").replace(
        '<recv response="200"/>', '<recv response="100" optional="true"/>\n<recv response="200"/>\n') + \
        ANSWERED.split("<send>", 1)[1].join(["<send>", ""]).replace("CSeq: 1 ACK", "CSeq: 2 ACK")
    with Ear() as ear, Agent(script) as agent:
        options = sipp(tmp_path, agent.port, scenario(OPTIONS), ear=ear.port)
        assert options.returncode == 0, str(options)
        run = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, in_dialog("OPTIONS", 2), reinvite,
                                                  in_dialog("BYE", 4)), ear=ear.port)
        assert run.returncode == 0, str(run)
        until(script.ended.is_set, "the dialogue to hear the hang-up")
    assert "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY" in options.received("SIP/2.0 200 OK")[0]
    first, again = (m[m.index("v=0"):] for m in run.received("SIP/2.0 200 OK") if "\nv=0" in m)
    assert first == again  # the same description, the same version (RFC 3264 §8)
    assert script.events == [flow.HungUp()]


SDP = """v=0
    o=caller 53655765 2353687638 IN IP4 [local_ip]
    s=-
    c=IN IP4 [media_ip]
    t=0 0
    m=audio [ear] RTP/AVP 0 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=sendrecv"""
OPTIONS = """<send retrans="500">
  <![CDATA[
    OPTIONS sip:[hotline]@[remote_ip]:[remote_port] SIP/2.0
    Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
    From: <sip:probe@[local_ip]:[local_port]>;tag=[pid]probe
    To: <sip:[hotline]@[remote_ip]:[remote_port]>
    Call-ID: [call_id]
    CSeq: 1 OPTIONS
    Max-Forwards: 70
    Content-Length: 0
  ]]>
</send>
<recv response="200"/>
"""


class RawPhone:
    """A caller written by hand, for what SIPp cannot say (the same request twice, a 200 received twice)."""

    def __init__(self, port: int, rtp_port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.rtp_port = rtp_port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def __enter__(self) -> RawPhone:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, message: Message) -> None:
        self.sock.sendto(message.to_bytes(), self.target)

    def receive(self, timeout: float = 5) -> Message:
        self.sock.settimeout(timeout)
        return parse(self.sock.recv(65535))

    def invite(self) -> Message:
        invite = Message(method="INVITE", uri=f"sip:hotline@127.0.0.1:{self.target[1]}")
        for name, value in (("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={new_branch()};rport"),
                            ("From", f"<sip:{CALLER}@127.0.0.1>;tag=raw"), ("To", "<sip:hotline@127.0.0.1>"),
                            ("Call-ID", f"raw-{self.port}"), ("CSeq", "1 INVITE"),
                            ("Contact", f"<sip:caller@127.0.0.1:{self.port}>"), ("Content-Type", "application/sdp")):
            invite.add(name, value)
        invite.body = (f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                       f"m=audio {self.rtp_port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n").encode()
        self.send(invite)
        return invite

    def in_dialog(self, invite: Message, ok: Message, method: str, cseq: int, body: str = "",
                  content_type: str = "") -> Message:
        message = Message(method=method, uri=NameAddr.parse(ok.get("Contact") or "").uri)
        for name, value in (("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={new_branch()}"),
                            ("From", invite.get("From") or ""), ("To", ok.get("To") or ""),
                            ("Call-ID", invite.call_id), ("CSeq", f"{cseq} {method}")):
            message.add(name, value)
        if body:
            message.add("Content-Type", content_type)
            message.body = body.encode()
        return message


def test_simkeep_voice_answers_with_the_menu_over_the_database_and_stops_on_sigterm(db, tmp_path):
    make_line(db, msisdn=CALLER, now=clock.now())
    port, log = free_udp_port(), tmp_path / "voice.log"
    process = start(["voice", "--port", str(port)], simkeep_env(db.url, tmp_path), log)
    try:
        until(lambda: "voice.listening" in log.read_text(), "simkeep voice to listen", timeout=60)
        with Ear() as ear:
            run = sipp(tmp_path, port, scenario(INVITE, ANSWERED, pause(0.5), info("2", 2), pause(0.5),
                                                info("1", 3), pause(1), in_dialog("BYE", 4)), ear=ear.port)
            assert run.returncode == 0, str(run)
        until(lambda: "voice.call_ended" in log.read_text(), "the call to end")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    played = [json.loads(line) for line in log.read_text().splitlines()
              if line.startswith("{") and '"voice.played"' in line]
    assert played[0]["languages"] == ["en", "fr", "zh_CN"]  # the language menu: each option in its language
    assert "balance_is" in played[2]["prompts"] and played[2]["languages"] == ["fr"]
    assert CALLER not in log.read_text()  # numbers are not logged by the transport


def test_with_no_rtp_port_left_the_call_is_refused_at_once_and_the_dialogue_hears_it_ended(tmp_path):
    script = Script(say("welcome", then=GATHER))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        port = until(lambda: _bound_even(taken), "an even port")
        with Ear() as ear, Agent(script, rtp_ports=(port, port)) as agent:  # its one port is taken
            run = sipp(tmp_path, agent.port, scenario(INVITE, '<recv response="100" optional="true"/>\n'
                                                      '<recv response="503"/>\n' + ACK_FAILURE), ear=ear.port)
            assert run.returncode == 0, str(run)
            until(script.ended.is_set, "the dialogue to hear the call ended")
    assert script.events == [flow.HungUp()]


def _bound_even(sock: socket.socket) -> int | None:
    port = free_udp_port() // 2 * 2
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return None
    return port


def test_a_transfer_the_far_end_refuses_or_never_reports_still_ends_our_leg(tmp_path):
    script = Script(*2 * [say("menu", then=flow.Transfer("sip:agent@127.0.0.1:5999"))])  # two calls
    with Ear() as ear, Agent(script, transfer_timeout=0.5) as agent:
        refused = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, answer_request("REFER", "403 Forbidden"),
                                                      answer_request("BYE")), ear=ear.port)
        silent = sipp(tmp_path, agent.port, scenario(INVITE, ANSWERED, answer_request("REFER", "202 Accepted"),
                                                     answer_request("BYE")), ear=ear.port)
        until(lambda: agent.call_count() == 0, "the calls to close")
    assert refused.returncode == 0, str(refused)
    assert silent.returncode == 0, str(silent)
    assert [(t["refer_status"], t["notify_status"]) for t in agent.observed.named("voice.transferred")] == [
        (403, None), (202, None)]
