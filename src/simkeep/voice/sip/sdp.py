"""The session description offer/answer we need (RFC 4566 SDP, RFC 3264 offer/answer): audio in PCMU (G.711
μ-law, payload 0) at 8 kHz in 20 ms packets, and keys as RFC 4733 telephone-events."""

from __future__ import annotations

from dataclasses import dataclass

PCMU = 0
TELEPHONE_EVENT = 101  # what we offer for telephone-event when the offer names none


class NotAcceptable(ValueError):
    """The offer has no audio stream we can take (no PCMU, or no address)."""


@dataclass(frozen=True)
class Offer:
    """What the caller's SDP says about its audio: where to send RTP and which payload type carries events."""

    host: str
    port: int
    event_type: int | None  # the offer's telephone-event/8000 payload type, if any


def parse_offer(body: bytes) -> Offer:
    """The first audio stream of the offer (RFC 3264 §6): its connection address (media-level c= over
    session-level), port, PCMU present, and the telephone-event payload type from a=rtpmap."""
    session_host = media_host = None
    port, formats, event_type, in_audio = None, [], None, False
    for line in body.decode("utf-8", "replace").splitlines():
        kind, _, value = line.strip().partition("=")
        if kind == "m":
            if port is not None:
                break  # only the first audio stream
            media, media_port, _, *fmts = value.split()
            in_audio = media == "audio"
            if in_audio:
                port, formats = int(media_port), fmts
        elif kind == "c":
            address = value.split()[-1].split("/")[0]
            if port is None and not in_audio:
                session_host = address
            elif in_audio:
                media_host = address
        elif kind == "a" and in_audio and value.lower().startswith("rtpmap:"):
            number, _, encoding = value[len("rtpmap:"):].partition(" ")
            if encoding.lower().startswith("telephone-event/8000") and number in formats:
                event_type = int(number)
    host = media_host or session_host
    if port is None or not host or str(PCMU) not in formats:
        raise NotAcceptable("no PCMU audio stream in the offer")
    return Offer(host, port, event_type)


def answer(offer: Offer, *, host: str, port: int, session_id: int, version: int) -> bytes:
    """Our answer: PCMU plus telephone-event with the offer's payload type (RFC 3264 §6.1: the answer uses the
    offer's numbers), 20 ms packets. `version` goes up only when the description changes (§8)."""
    event_type = offer.event_type if offer.event_type is not None else TELEPHONE_EVENT
    family = "IP6" if ":" in host else "IP4"
    lines = ["v=0", f"o=simkeep {session_id} {version} IN {family} {host}", "s=simkeep", f"c=IN {family} {host}",
             "t=0 0", f"m=audio {port} RTP/AVP {PCMU} {event_type}", f"a=rtpmap:{PCMU} PCMU/8000",
             f"a=rtpmap:{event_type} telephone-event/8000", f"a=fmtp:{event_type} 0-15", "a=ptime:20",
             "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()
