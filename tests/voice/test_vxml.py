"""VoiceXML: a platform walks the dialogue document by document, following the signed URLs each one names."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from simkeep.topup.models import TopUp
from simkeep.voice import flow, vxml
from simkeep.voice.http_models import VoiceHttpTurn
from simkeep.voice.menu import Menu
from simkeep.voice.models import VoiceCall
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.factories.snapshot import count
from tests.factories.vouchers import make_reseller, sold_cards
from tests.voice.ivr import VXML_KEY, Scripted, voice_client, voice_settings

V = "{http://www.w3.org/2001/vxml}"
G = "{http://www.w3.org/2001/06/grammar}"
BASE = "https://simkeep.example"


def parse(answer) -> ET.Element:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/voicexml+xml"
    root = ET.fromstring(answer.content)
    assert root.tag == f"{V}vxml" and root.get("version") == "2.1"
    return root


def audio(root: ET.Element) -> list[tuple[str, str]]:
    return [(a.get("src"), a.text) for a in root.iter(f"{V}audio")]


def submit(root: ET.Element, handler: str) -> str:
    """The URL a field's handler (filled, noinput, nomatch) or the hang-up catch submits to."""
    if handler == "hangup":
        parent = root.find(f"{V}form/{V}catch[@event='connection.disconnect.hangup']")
    else:
        parent = root.find(f"{V}form/{V}field/{V}{handler}")
    assert parent is not None
    element = parent.find(f"{V}submit")
    assert element is not None and element.get("method") == "post"
    return element.get("next")


def follow(client, url: str, **form: str):
    """What a platform does: POST the submit's namelist to its `next` (a path on this server)."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE
    return client.post(f"{parts.path}?{parts.query}", data=form)


def start_url(call_id: str = "vx1", caller: str = "tel:+33612345678") -> str:
    return f"/voice/vxml/start?key={VXML_KEY}&call_id={call_id}&caller={caller}&called=%2B33170000000"


def test_a_walk_through_the_documents(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        first = parse(client.get(start_url()))
        assert audio(first) == [(f"{BASE}/voice/prompts/fr/n1.wav", "un"), (f"{BASE}/voice/prompts/fr/n2.wav", "deux"),
                                (f"{BASE}/voice/prompts/fr/n3.wav", "trois")]
        properties = {e.get("name"): e.get("value") for e in first.iter(f"{V}property")}
        assert properties == {"timeout": "6s", "interdigittimeout": "6s", "termchar": "#", "inputmodes": "dtmf",
                              "bargein": "true"}
        rule = first.find(f"{V}form/{V}field/{G}grammar/{G}rule/{G}item")
        assert rule is not None and rule.get("repeat") == "1-1"
        assert [i.text for i in rule.iter(f"{G}item") if i.text] == list("0123456789*")
        assert first.find(f"{V}form/{V}field/{V}filled/{V}submit").get("namelist") == "digits"
        filled = submit(first, "filled")
        assert parse_qs(urlsplit(filled).query)["event"] == ["digits"]
        assert parse_qs(urlsplit(submit(first, "noinput")).query)["event"] == ["silence"]
        assert parse_qs(urlsplit(submit(first, "hangup")).query)["event"] == ["hangup"]

        second = parse(follow(client, filled, digits="1"))
        assert [text for _src, text in audio(second)] == ["douze", "euros"]
        assert second.find(f"{V}form/{V}field/{G}grammar/{G}rule/{G}item").get("repeat") == "1-15"
        third = parse(follow(client, submit(second, "filled"), digits="0"))
        transfer = third.find(f"{V}form/{V}transfer")
        assert transfer is not None and transfer.get("dest") == "sip:agent@127.0.0.1"
        assert transfer.get("bridge") == "false" and third.find(f"{V}form/{V}field") is None
    assert menu.started == [flow.Call("vx1", "+33612345678", "+33170000000", flow.HTTP)]
    assert menu.events == [("vx1", flow.Digits("1")), ("vx1", flow.Digits("0"))]


def test_silence_nomatch_and_hangup_reach_the_dialogue(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        first = parse(client.get(start_url("vx1")))
        ended = parse(follow(client, submit(first, "noinput")))
        assert ended.find(f"{V}form/{V}block/{V}disconnect") is not None
        assert [text for _src, text in audio(ended)] == ["quatre-vingt-dix-neuf"]
        other = parse(client.post(f"/voice/vxml/start?key={VXML_KEY}",
                                  data={"call_id": "vx2", "caller": "", "called": "+33170000000"}))
        follow(client, submit(other, "nomatch"))  # only the finishing key: empty digits
        third = parse(client.get(start_url("vx3")))
        over = parse(follow(client, submit(third, "hangup")))
        assert list(over.iter(f"{V}audio")) == [] and over.find(f"{V}form/{V}block/{V}disconnect") is not None
    assert menu.events == [("vx1", flow.Silence("")), ("vx2", flow.Digits("")), ("vx3", flow.HungUp())]
    assert [call.caller for call in menu.started] == ["+33612345678", None, "+33612345678"]


def test_a_platform_without_the_numbers_in_its_url_gets_a_document_that_sends_them(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        boot = parse(client.get(f"/voice/vxml/start?key={VXML_KEY}"))
        variables = {v.get("name"): v.get("expr") for v in boot.iter(f"{V}var")}
        assert variables == {"caller": "session.connection.remote.uri", "called": "session.connection.local.uri"}
        send = boot.find(f"{V}form/{V}block/{V}submit")
        assert send.get("namelist") == "caller called"
        assert menu.started == []
        first = parse(follow(client, send.get("next"), caller="sip:+33612345678@gw.example", called="sip:hotline@x"))
    assert len(audio(first)) == 3
    assert [(c.caller, c.called) for c in menu.started] == [("+33612345678", "sip:hotline@x")]
    assert menu.started[0].call_id.startswith("vxml-")


def test_a_replayed_url_gets_the_same_document_and_acts_once(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        filled = submit(parse(client.get(start_url())), "filled")
        first = follow(client, filled, digits="1")
        again = follow(client, filled, digits="1")
        other = follow(client, filled, digits="0")  # the same turn's URL with other keys
    assert parse(again) is not None
    assert audio(ET.fromstring(again.content)) == audio(ET.fromstring(first.content))
    assert other.status_code == 409 and other.json()["error"]["code"] == "turn_mismatch"
    assert menu.events == [("vx1", flow.Digits("1"))]


@pytest.mark.parametrize("tamper", ["turn", "call", "signature", "expired", "other_key", "garbage"])
def test_a_forged_or_expired_token_is_refused_and_nothing_acts(settings, db, tamper):
    menu = Scripted()
    cfg = voice_settings(settings)
    with voice_client(settings, db, menu) as client:
        filled = submit(parse(client.get(start_url())), "filled")
        token = parse_qs(urlsplit(filled).query)["token"][0]
        encoded, turn, expires, mac = token.split(".")
        key = cfg.key("voice_vxml")
        forged = {
            "turn": f"{encoded}.2.{expires}.{mac}",
            "call": f"{vxml.token(key, vxml.Step('vx1', 1, int(expires))).split('.')[0][:-1]}A.{turn}.{expires}.{mac}",
            "signature": f"{encoded}.{turn}.{expires}.{'0' * 64}",
            "expired": vxml.token(key, vxml.Step("vx1", 1, int(time.time()) - 1)),
            "other_key": vxml.token("not-simkeeps-key-0123456789abcdef", vxml.Step("vx1", 1, int(expires))),
            "garbage": "é.1.2.%",
        }[tamper]
        answer = client.post("/voice/vxml/next", params={"token": forged, "event": "digits"}, data={"digits": "1"})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "token_invalid"
    assert menu.events == [] and count(db, VoiceHttpTurn) == 1


def test_the_start_url_needs_the_entry_key(settings, db, client):
    menu = Scripted()
    with voice_client(settings, db, menu) as voice:
        wrong = voice.get(start_url().replace(VXML_KEY, "guess"))
        missing = voice.get("/voice/vxml/start?called=1")
    off = client.get(start_url())  # the app without the VoiceXML key
    assert [wrong.status_code, missing.status_code, off.status_code] == [401, 401, 404]
    assert off.json()["error"]["code"] == "voice_http_off"
    assert menu.started == [] and count(db, VoiceHttpTurn) == 0


def test_prompt_audio_is_served_with_cache_headers_and_nothing_outside_its_folder(settings, db, tmp_path,
                                                                                   monkeypatch):
    prompts = tmp_path / "prompts"
    (prompts / "fr").mkdir(parents=True)
    (prompts / "fr" / "n12.wav").write_bytes(b"RIFF....WAVEfmt ")
    (prompts / "fr" / "EUR.major_many.wav").write_bytes(b"RIFF-euros")
    (tmp_path / "secret.wav").write_bytes(b"not a prompt")
    monkeypatch.setattr("simkeep.voice.api.PROMPTS", prompts)
    with voice_client(settings, db, Scripted()) as client:
        found = client.get("/voice/prompts/fr/n12.wav")
        dotted = client.get("/voice/prompts/fr/EUR.major_many.wav")
        refused = [client.get(path) for path in (
            "/voice/prompts/fr/n13.wav", "/voice/prompts/de/n12.wav", "/voice/prompts/fr/..%2Fsecret.wav",
            "/voice/prompts/fr/%2E%2E%2F%2E%2E%2Fsecret.wav", "/voice/prompts/fr/.hidden.wav",
            "/voice/prompts/..%2F/secret.wav")]
    assert found.status_code == 200 and found.content == b"RIFF....WAVEfmt "
    assert found.headers["content-type"] == "audio/wav"
    assert found.headers["cache-control"] == "public, max-age=86400" and found.headers["etag"]
    assert dotted.content == b"RIFF-euros"
    assert [r.status_code for r in refused] == [404] * 6


def test_a_walk_with_the_hotline_s_menu_hears_the_balance_and_renews_with_a_card(settings, db):
    make_line(db, now=T0, language="fr")
    top_up(db, now=T0)
    make_reseller(db, now=T0)
    [(serial, pin)] = sold_cards(db, quantity=1, now=T0)
    menu = Menu(db, voice_settings(settings), now=lambda: T0)
    with voice_client(settings, db, menu) as client:
        first = parse(client.post(f"/voice/vxml/start?key={VXML_KEY}",
                                  data={"call_id": "vx1", "caller": "sip:+33612345678@gw.example", "called": "3900"}))
        french = parse(follow(client, submit(first, "filled"), digits="2"))
        balance = parse(follow(client, submit(french, "filled"), digits="1"))
        assert " ".join(text for _src, text in audio(balance)[:11]) == (
            "Votre solde est de dix euros Votre ligne reste valable, dernier jour\u00a0: le quatorze avril "
            "Sans recharge, votre numéro sera perdu après le onze octobre")
        assert audio(balance)[1] == (f"{BASE}/voice/prompts/fr/n10.wav", "dix")
        assert balance.find(f"{V}form/{V}field/{V}prompt").get("{http://www.w3.org/XML/1998/namespace}lang") == "fr-FR"
        asking = parse(follow(client, submit(balance, "filled"), digits="2"))
        assert asking.find(f"{V}form/{V}field/{G}grammar/{G}rule/{G}item").get("repeat") == "1-16"
        renewed_url = submit(asking, "filled")
        renewed = parse(follow(client, renewed_url, digits=pin))
        replayed = parse(follow(client, renewed_url, digits=pin))  # the platform fetched the same URL again
        assert audio(replayed) == audio(renewed)
        assert " ".join(text for _src, text in audio(renewed)[:8]) == (
            "Votre recharge est faite. Crédit ajouté\u00a0: dix euros Votre ligne reste valable, dernier jour\u00a0: "
            "le vingt-huit avril")
        parse(follow(client, submit(renewed, "hangup")))
    assert view(db).balance.minor == 2000 and count(db, TopUp) == 2
    with db.transaction(write=False) as session:
        call = session.scalars(select(VoiceCall)).one()
        assert [d["action"] for d in call.done] == ["language_set", "balance_heard", "card_redeemed"]
        assert call.done[2]["serial"] == serial and call.outcome == "hung_up"
