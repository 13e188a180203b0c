"""VoiceXML 2.1 documents for IVR platforms that speak it: one document per turn, and the signed URL of the next.

A VoiceXML platform cannot sign its requests, so each next URL carries a token: the call id, the turn it answers
and an expiry, under an HMAC key of simkeep's own. A token cannot be forged, made to answer another call or turn,
or used after it expires; replaying it within its life gets the same document again (voice/exchange.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from simkeep.voice import flow

VXML_NS, SRGS_NS = "http://www.w3.org/2001/vxml", "http://www.w3.org/2001/06/grammar"
TOKEN_SECONDS = 15 * 60  # a turn's prompts and the caller's keys take a minute or two; a stale URL is refused
XML_LANG = {"zh_CN": "zh-CN", "fr": "fr-FR", "en": "en-GB"}
KEYS = "0123456789*"
HANGUP_EVENT = "connection.disconnect.hangup"


class BadToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Step:
    """What a next URL's token says: this call, the turn being answered, until when."""

    call_id: str
    turn: int
    expires: int


def token(key: str, step: Step) -> str:
    body = f"{base64.urlsafe_b64encode(step.call_id.encode()).decode().rstrip('=')}.{step.turn}.{step.expires}"
    return f"{body}.{_mac(key, body)}"


def read_token(keys: list[str], text: str, now: int) -> Step:
    """The step a token names, or BadToken (malformed, signed with no key of ours, or expired)."""
    body, _, mac = text.rpartition(".")
    if not any(hmac.compare_digest(_mac(key, body).encode(), mac.encode()) for key in keys):
        raise BadToken("signature does not match")
    encoded, turn, expires = body.split(".")  # signed by us: well formed
    if int(expires) < now:
        raise BadToken("expired")
    return Step(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode(), int(turn), int(expires))


def _mac(key: str, body: str) -> str:
    return hmac.new(key.encode(), f"simkeep/vxml/{body}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Piece:
    """One prompt as the document plays it: the recording, and the text a platform may speak instead."""

    language: str
    audio_url: str
    text: str


def document(pieces: list[Piece], then: flow.Gather | flow.Transfer | flow.Hangup, next_url: str) -> bytes:
    """The VoiceXML of one turn: the prompts, then a DTMF field whose outcome is submitted to `next_url` with
    `event` = digits | silence | hangup (a nomatch, e.g. only the finishing key, is empty digits)."""
    ET.register_namespace("", VXML_NS)
    root = ET.Element(_v("vxml"), {"version": "2.1"})
    form = ET.SubElement(root, _v("form"), {"id": "turn"})
    if isinstance(then, flow.Gather):
        _gather(form, pieces, then, next_url)
    else:
        block = ET.SubElement(form, _v("block"))
        _prompt(block, pieces)
        if isinstance(then, flow.Transfer):  # a blind transfer: simkeep's part of the call ends here
            ET.SubElement(form, _v("transfer"), {"name": "agent", "dest": then.uri, "bridge": "false"})
        else:
            ET.SubElement(block, _v("disconnect"))
    return _serialised(root)


def bootstrap(start_url: str) -> bytes:
    """For a platform that cannot put the call's numbers in the start URL: a document that reads them from the
    session (the calling and the called URI) and submits them back to it."""
    ET.register_namespace("", VXML_NS)
    root = ET.Element(_v("vxml"), {"version": "2.1"})
    form = ET.SubElement(root, _v("form"), {"id": "start"})
    ET.SubElement(form, _v("var"), {"name": "caller", "expr": "session.connection.remote.uri"})
    ET.SubElement(form, _v("var"), {"name": "called", "expr": "session.connection.local.uri"})
    block = ET.SubElement(form, _v("block"))
    ET.SubElement(block, _v("submit"), {"next": start_url, "method": "post", "namelist": "caller called"})
    return _serialised(root)


def _serialised(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode()


def _gather(form: ET.Element, pieces: list[Piece], gather: flow.Gather, next_url: str) -> None:
    seconds = f"{gather.timeout:g}s"
    properties = {"timeout": seconds, "interdigittimeout": seconds, "termchar": gather.finish_on,
                  "inputmodes": "dtmf", "bargein": "true"}
    for name, value in properties.items():
        ET.SubElement(form, _v("property"), {"name": name, "value": value})
    catch = ET.SubElement(form, _v("catch"), {"event": HANGUP_EVENT})
    _submit(catch, next_url, "hangup")
    field = ET.SubElement(form, _v("field"), {"name": "digits"})
    _grammar(field, gather.max_digits)
    _prompt(field, pieces)
    _submit(ET.SubElement(field, _v("noinput")), next_url, "silence")
    _submit(ET.SubElement(field, _v("nomatch")), next_url, "digits")
    _submit(ET.SubElement(field, _v("filled")), next_url, "digits", namelist="digits")


def _grammar(field: ET.Element, max_digits: int) -> None:
    """Any key but the finishing one, 1 to `max_digits` times (SRGS XML, DTMF mode)."""
    grammar = ET.SubElement(field, _s("grammar"), {"mode": "dtmf", "version": "1.0", "root": "keys"})
    rule = ET.SubElement(grammar, _s("rule"), {"id": "keys", "scope": "public"})
    item = ET.SubElement(rule, _s("item"), {"repeat": f"1-{max_digits}"})
    choice = ET.SubElement(item, _s("one-of"))
    for key in KEYS:
        ET.SubElement(choice, _s("item")).text = key


def _prompt(parent: ET.Element, pieces: list[Piece]) -> None:
    if not pieces:
        return
    prompt = ET.SubElement(parent, _v("prompt"), {"bargein": "true"})
    for piece in pieces:
        audio = ET.SubElement(prompt, _v("audio"), {"src": piece.audio_url})
        audio.text = piece.text  # spoken by the platform's text-to-speech if the file cannot be fetched
    prompt.set("{http://www.w3.org/XML/1998/namespace}lang", XML_LANG.get(pieces[0].language, pieces[0].language))


def _submit(parent: ET.Element, next_url: str, event: str, *, namelist: str | None = None) -> None:
    attributes = {"next": f"{next_url}&event={event}", "method": "post"}
    if namelist:
        attributes["namelist"] = namelist
    ET.SubElement(parent, _v("submit"), attributes)


def _v(tag: str) -> str:
    return f"{{{VXML_NS}}}{tag}"


def _s(tag: str) -> str:
    return f"{{{SRGS_NS}}}{tag}"
