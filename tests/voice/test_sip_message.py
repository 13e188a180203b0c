"""SIP messages, SDP, digest and RTP key events as the wire has them: parsed and built without a network."""

from __future__ import annotations

import pytest

from simkeep.config import Settings
from simkeep.voice.sip import digest, rtp, sdp
from simkeep.voice.sip.agent import Options, e164
from simkeep.voice.sip.call import info_key
from simkeep.voice.sip.message import Message, NameAddr, ParseError, Uri, Via, mark_received, parse, response

INVITE = (
    b"INVITE sip:hotline@192.0.2.10:5060;transport=udp SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKproxy;received=198.51.100.1,\r\n"
    b" SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bKphone;rport=5062\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKfirst\r\n"
    b"Record-Route: <sip:198.51.100.1;lr;ftag=a>, <sip:203.0.113.5;lr>\r\n"
    b'f: "Dupont, Marie" <sip:0612345678@operator.example>;tag=abc\r\n'
    b"t: <sip:hotline@192.0.2.10>\r\n"
    b"i: call-1@10.0.0.7\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"m: <sip:marie@10.0.0.7:5062>\r\n"
    b"P-Asserted-Identity: <tel:+33612345678>\r\n"
    b"Subject: a long\r\n"
    b"\tfolded subject\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\r\nextra"
)


def test_compact_names_folded_lines_and_list_headers_are_read_as_rfc_3261_says():
    message = parse(INVITE)
    assert (message.method, message.uri) == ("INVITE", "sip:hotline@192.0.2.10:5060;transport=udp")
    assert message.all("Via") == ["SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKproxy;received=198.51.100.1",
                                  "SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bKphone;rport=5062",
                                  "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKfirst"]
    assert message.branch == "z9hG4bKproxy"
    assert message.all("Record-Route") == ["<sip:198.51.100.1;lr;ftag=a>", "<sip:203.0.113.5;lr>"]
    assert message.get("From") == '"Dupont, Marie" <sip:0612345678@operator.example>;tag=abc'  # not a list
    assert message.call_id == "call-1@10.0.0.7" and message.cseq == (7, "INVITE")
    assert message.get("Subject") == "a long folded subject"
    assert message.get("Content-Type") == "application/sdp"
    assert message.body == b"v=0\r"  # Content-Length bytes, whatever follows


def test_name_addresses_uris_and_vias():
    sender = NameAddr.parse(parse(INVITE).get("From") or "")
    assert (sender.display, sender.uri, sender.tag) == ("Dupont, Marie", "sip:0612345678@operator.example", "abc")
    bare = NameAddr.parse("sip:bob@host;tag=x")
    assert (bare.uri, bare.tag) == ("sip:bob@host", "x")
    uri = Uri.parse("sip:alice:secret@[2001:db8::1]:5070;lr;maddr=192.0.2.1?subject=x")
    assert (uri.user, uri.host, uri.port, uri.params) == ("alice", "2001:db8::1", 5070,
                                                          {"lr": "", "maddr": "192.0.2.1"})
    assert uri.address() == ("192.0.2.1", 5070)
    assert Uri.parse("tel:+33612345678;phone-context=x").user == "+33612345678"
    via = Via.parse("SIP/2.0/udp [2001:db8::2]:5062;branch=z9hG4bKx;rport")
    assert (via.transport, via.host, via.port, via.params) == ("UDP", "2001:db8::2", 5062,
                                                               {"branch": "z9hG4bKx", "rport": ""})


def test_a_response_copies_the_vias_tags_the_to_and_says_where_the_request_came_from():
    message = parse(INVITE.replace(b"branch=z9hG4bKproxy;received=198.51.100.1,",
                                   b"branch=z9hG4bKproxy;rport,"))
    mark_received(message, "198.51.100.9", 5099)
    answer = response(message, 180, to_tag="ours")
    assert answer.all("Via")[0] == "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKproxy;rport=5099;received=198.51.100.9"
    assert answer.all("Via")[1:] == message.all("Via")[1:]
    assert answer.get("To") == "<sip:hotline@192.0.2.10>;tag=ours"
    assert answer.all("Record-Route") == message.all("Record-Route")
    assert response(message, 100).get("To") == "<sip:hotline@192.0.2.10>" and not response(message, 100).all(
        "Record-Route")
    text = answer.to_bytes().decode()
    assert text.startswith("SIP/2.0 180 Ringing\r\n") and text.endswith("Content-Length: 0\r\n\r\n")


@pytest.mark.parametrize("data", [b"", b"hello world\r\n\r\n", b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n",
                                  b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\ni: c\r\nCSeq: x INVITE\r\n\r\n",
                                  b"\xff\xfe SIP/2.0 200 OK\r\n\r\n"])
def test_what_is_not_a_sip_message_is_refused(data):
    with pytest.raises(ParseError):
        parse(data)


def test_a_message_built_is_parsed_back_the_same():
    message = Message(method="BYE", uri="sip:marie@10.0.0.7:5062")
    for name, value in (("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKb;rport"), ("Call-ID", "c"),
                        ("CSeq", "8 BYE"), ("From", "<sip:hotline@x>;tag=1"), ("To", "<sip:y@z>;tag=2")):
        message.add(name, value)
    again = parse(message.to_bytes())
    assert (again.method, again.uri, again.headers[:5], again.body) == (message.method, message.uri,
                                                                       message.headers, b"")


OFFER = b"""v=0\r
o=- 1 1 IN IP4 10.0.0.7\r
s=-\r
c=IN IP4 10.0.0.7\r
t=0 0\r
m=audio 4000 RTP/AVP 8 0 96\r
c=IN IP4 10.0.0.8\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:96 telephone-event/8000\r
m=video 4002 RTP/AVP 99\r
"""


def test_the_offer_gives_the_audio_address_and_the_event_payload_and_the_answer_keeps_its_numbers():
    offer = sdp.parse_offer(OFFER)
    assert offer == sdp.Offer("10.0.0.8", 4000, 96)
    answer = sdp.answer(offer, host="192.0.2.10", port=10002, session_id=5, version=1).decode()
    assert answer.splitlines() == ["v=0", "o=simkeep 5 1 IN IP4 192.0.2.10", "s=simkeep", "c=IN IP4 192.0.2.10",
                                   "t=0 0", "m=audio 10002 RTP/AVP 0 96", "a=rtpmap:0 PCMU/8000",
                                   "a=rtpmap:96 telephone-event/8000", "a=fmtp:96 0-15", "a=ptime:20", "a=sendrecv"]
    with pytest.raises(sdp.NotAcceptable):
        sdp.parse_offer(OFFER.replace(b"RTP/AVP 8 0 96", b"RTP/AVP 8 96"))  # no PCMU


def test_the_digest_answer_is_rfc_2617s_worked_example():
    challenge = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                 'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    answer = digest.authorization(challenge, method="GET", uri="/dir/index.html", user="Mufasa",
                                  password="Circle Of Life", cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in answer
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in answer and "qop=auth" in answer and "nc=00000001" in answer
    with pytest.raises(digest.Unsupported):
        digest.authorization('Digest realm="r", nonce="n", algorithm=SHA-512-256', method="REGISTER", uri="sip:x",
                             user="u", password="p")


def event(key: int, *, end: bool, duration: int = 160) -> bytes:
    return bytes([key, 0x80 if end else 0]) + duration.to_bytes(2, "big")


def test_a_key_press_is_reported_once_for_its_many_packets_and_again_when_replayed():
    reader = rtp.EventReader()
    press = [event(5, end=False), event(5, end=False), event(5, end=True), event(5, end=True), event(5, end=True)]
    assert [reader.key(1, 8000, p) for p in press] == ["5", None, None, None, None]
    assert [reader.key(1, 9600, p) for p in press] == ["5", None, None, None, None]  # pressed again
    assert [reader.key(1, 9600, p) for p in press] == ["5", None, None, None, None]  # the same recording replayed
    assert reader.key(1, 11200, event(11, end=True)) == "#"  # only its end arrived
    assert reader.key(1, 12800, event(16, end=False)) is None  # not a key (a tone)


def test_rtp_packets_are_built_and_parsed_with_csrcs_extensions_and_padding():
    built = rtp.packet(0, 65535, 2**32 - 1, 0xABCDEF01, b"\xff" * 160, marker=True)
    assert built[:12].hex() == "8080ffffffffffffabcdef01"
    assert rtp.parse(built) == (0, 2**32 - 1, 0xABCDEF01, b"\xff" * 160)
    fancy = bytes([0x80 | 0x20 | 0x10 | 1, 101]) + b"\x00\x01" + b"\x00\x00\x00\x10" + b"\x00\x00\x00\x02" \
        + b"CSRC" + b"\xbe\xde\x00\x01" + b"EXT!" + event(1, end=False) + b"\x00\x00\x03"
    assert rtp.parse(fancy) == (101, 16, 2, event(1, end=False))
    assert rtp.parse(b"\x00" * 12) is None  # version 0
    assert rtp.frames(b"\x01" * 200) == [b"\x01" * 160, b"\x01" * 40 + b"\xff" * 120]


@pytest.mark.parametrize(("kind", "body", "key"), [
    ("application/dtmf-relay", "Signal=5\r\nDuration=160", "5"), ("application/dtmf-relay", "Signal= #\r\n", "#"),
    ("application/dtmf-relay", "signal=11", "#"), ("application/dtmf", "*", "*"), ("application/dtmf", "10", "*"),
    ("application/dtmf-relay", "Duration=160", None), ("application/dtmf", "55", None)])
def test_keys_in_sip_info_bodies(kind, body, key):
    message = Message(method="INFO", uri="sip:x", headers=[("Content-Type", kind)], body=body.encode())
    assert info_key(message) == key


@pytest.mark.parametrize(("uri", "number"), [
    ("sip:0612345678@operator.example", "+33612345678"), ("tel:+447911123456", "+447911123456"),
    ("sip:+33612345678@x;user=phone", "+33612345678"), ("sip:anonymous@anonymous.invalid", None), ("sip:123@x", None),
    ("sip:0033612345678@x", "+33612345678")])
def test_calling_numbers_are_made_e164_with_the_default_region(uri, number):
    assert e164(uri, "FR") == number


def test_the_agent_is_configured_from_settings():
    settings = Settings(voice_sip_host="0.0.0.0", voice_sip_port=5070, voice_public_host="198.51.100.7",
                        voice_rtp_ports="20000-20099", voice_max_calls=7, voice_registrar="sip:192.0.2.1:5060",
                        voice_user="+33100000000", voice_password="pw", default_region="GB")
    options = Options.from_settings(settings)
    assert (options.host, options.port, options.contact_host, options.rtp_ports, options.max_calls, options.region,
            options.user, options.registrar, options.password) == (
        "0.0.0.0", 5070, "198.51.100.7", (20000, 20099), 7, "GB", "+33100000000", "sip:192.0.2.1:5060", "pw")
    assert options.trusted_peers == ("127.0.0.0/8", "::1/128")
