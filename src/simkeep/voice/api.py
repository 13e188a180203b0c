"""The hotline's voice menu for an operator's IVR platform over HTTP, and the prompts' audio.

- JSON webhooks (in the manner of the well-known call-flow APIs): the platform posts a new call and then what the
  caller did; simkeep answers each with the next turn (what to say, then gather / transfer / hang up). Requests are
  signed like simkeep's other webhooks (`Simkeep-Signature: t=…,v1=…`, HMAC-SHA256 over `t.body`).
- VoiceXML 2.1: one document per turn; the platform starts at /voice/vxml/start?key=… and follows the signed URLs
  each document names.
- GET /voice/prompts/{language}/{name}.wav: the recorded pieces both modes point to.

Both modes drive the same dialogue (flow.Dialogue) the SIP transport drives, turn by turn through voice/exchange.py,
so a replayed request gets the first answer again and acts once.
"""

from __future__ import annotations

import hmac
import re
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from simkeep.config import Settings
from simkeep.core import signing
from simkeep.core.errors import InvalidInput, InvalidMsisdn, NotFound, SimkeepError
from simkeep.core.ids import new_id
from simkeep.core.phone import lookup_msisdn
from simkeep.voice import exchange, flow, speech, vxml
from simkeep.voice.schemas import (
    CALL_ID_PATTERN,
    CallIn,
    EventIn,
    GatherOut,
    HangupOut,
    SayOut,
    ThenGather,
    ThenHangup,
    ThenTransfer,
    TransferOut,
    TurnOut,
)
from simkeep.web.deps import Config, Db
from simkeep.web.openapi import errors

SIGNATURE_HEADER = "Simkeep-Signature"
PROMPTS = Path(__file__).parent / "prompts"
PROMPT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
PROMPT_CACHE = "public, max-age=86400"  # a re-recorded piece reaches callers within a day (and by its ETag)
VXML_TYPE = "application/voicexml+xml"

router = APIRouter(tags=["voice"])


class SignatureInvalid(SimkeepError):
    code, status, message = "signature_invalid", 401, "The Simkeep-Signature header is missing, wrong or stale."


class VoiceHttpOff(NotFound):
    code, message = "voice_http_off", "The voice menu's HTTP mode is not configured here."


class TokenInvalid(SimkeepError):
    code, status, message = "token_invalid", 401, "This link is not valid for this call any more."


async def dialogue(request: Request) -> flow.Dialogue:
    """The hotline's dialogue (voice.menu.Menu), built once with the app."""
    return request.app.state.voice_dialogue


Dialogue = Annotated[flow.Dialogue, Depends(dialogue)]


async def signed(request: Request, settings: Config) -> None:
    """Refuse the request before its body is read as JSON unless the platform signed it, recently."""
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:  # unsigned is unsigned, whether or not this deployment speaks to a platform
        raise SignatureInvalid()
    secret = settings.voice_platform_secret
    if not secret:
        raise VoiceHttpOff()
    try:
        signing.verify(secret, await request.body(), header, int(time.time()))
    except signing.BadSignature as exc:
        raise SignatureInvalid() from exc


WEBHOOK_ERRORS = errors({
    401: f"`signature_invalid`: the `{SIGNATURE_HEADER}` header is missing, does not match the body, or its timestamp "
         f"is more than {signing.TOLERANCE_SECONDS // 60} minutes away; nothing was recorded",
    404: "`voice_http_off`: SIMKEEP_VOICE_PLATFORM_SECRET is not set here",
}, authenticated=False, body=True)


# The header in the document (checked by `signed`, which answers 401 rather than a validation error without it).
SIGNED = {"parameters": [{"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {
    "type": "string", "maxLength": 512, "examples": ["t=1796212800,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"]},
    "description": "`t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">` under SIMKEEP_VOICE_PLATFORM_SECRET"}]}


@router.post("/api/v1/voice/calls", response_model=TurnOut, responses=WEBHOOK_ERRORS,
             dependencies=[Depends(signed)], openapi_extra=SIGNED)
async def new_call(body: CallIn, db: Db, settings: Config, menu: Dialogue) -> TurnOut:
    """A call reached the hotline: answer its first turn. Posting the same call again answers the same turn 1."""
    call = flow.Call(call_id=body.call_id, caller=caller_number(body.caller, settings.default_region),
                     called=body.called, transport=flow.HTTP)
    key = exchange.digest({"caller": body.caller, "called": body.called}, settings.key("voice_turns"))
    number, turn = await run_in_threadpool(exchange.start, db, menu, call, key)
    return _turn_out(call.call_id, number, turn, settings)


@router.post("/api/v1/voice/calls/{call_id}/events", response_model=TurnOut, responses={**WEBHOOK_ERRORS, **errors({
    404: "`call_not_found`: no call with this id was started here (or `voice_http_off`)",
    409: "`turn_mismatch`: this turn was already answered for another event, or was never given; "
         "`turn_in_progress`: the same event is being answered by a request racing this one (send it again)",
}, authenticated=False)}, dependencies=[Depends(signed)], openapi_extra=SIGNED)
async def call_event(call_id: Annotated[str, PathParam(pattern=CALL_ID_PATTERN)], body: EventIn, db: Db,
                     settings: Config, menu: Dialogue) -> TurnOut:
    """What the caller did during `turn`: answered with turn + 1. The same event posted again (a retry, a replay
    within the signature's tolerance) gets the same answer and acts once."""
    event = _event(body)
    key = exchange.digest({"event": body.event, "digits": body.digits}, settings.key("voice_turns"))
    number, turn = await run_in_threadpool(exchange.follow, db, menu, call_id, body.turn, event, key)
    return _turn_out(call_id, number, turn, settings)


def _event(body: EventIn) -> flow.Event:
    if body.event == "hangup":
        return flow.HungUp()
    return flow.Digits(body.digits) if body.event == "digits" else flow.Silence(body.digits)


def _turn_out(call_id: str, number: int, turn: flow.Turn, settings: Settings) -> TurnOut:
    say = [SayOut(prompt=f"{p.language}/{p.name}", audio_url=prompt_url(p, settings), text=prompt_text(p))
           for p in turn.prompts]
    then = turn.then
    after: ThenGather | ThenTransfer | ThenHangup
    if isinstance(then, flow.Gather):
        after = ThenGather(gather=GatherOut(max_digits=then.max_digits, finish_on_key=then.finish_on,
                                            timeout_seconds=then.timeout))
    elif isinstance(then, flow.Transfer):
        after = ThenTransfer(transfer=TransferOut(uri=then.uri))
    else:
        after = ThenHangup(hangup=HangupOut())
    return TurnOut(call_id=call_id, turn=number, say=say, then=after)


def caller_number(raw: str | None, region: str) -> str | None:
    """The calling number in E.164 from what a platform passes (+33612345678, 0612345678, sip:+336…@host, tel:…);
    None when withheld ("anonymous", empty) or not a number."""
    if not raw:
        return None
    user = re.sub(r"^(sips?|tel):", "", raw.strip(), flags=re.IGNORECASE).split("@")[0].split(";")[0]
    try:
        return lookup_msisdn(user, region)
    except InvalidMsisdn:
        return None


def prompt_url(prompt: flow.Prompt, settings: Settings) -> str:
    return f"{settings.base_url}/voice/prompts/{prompt.language}/{quote(prompt.name)}.wav"


def prompt_text(prompt: flow.Prompt) -> str:
    """What the piece says (the fallback for a platform's text-to-speech)."""
    return speech.words((prompt,))


# -- the prompts' audio --------------------------------------------------------------------------------------------

@router.get("/voice/prompts/{language}/{name}.wav", include_in_schema=False)
async def prompt_audio(language: str, name: str) -> FileResponse:
    """One recorded piece. Only names of the form the prompt script writes, under a language's own folder."""
    if language not in speech.LANGUAGES or not PROMPT_NAME.fullmatch(name) or ".." in name:
        raise NotFound("No such prompt.")
    path = PROMPTS / language / f"{name}.wav"
    if not path.is_file():
        raise NotFound("No such prompt.")
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": PROMPT_CACHE})


# -- VoiceXML --------------------------------------------------------------------------------------------------------

async def vxml_fields(request: Request, settings: Config) -> dict[str, str]:
    """The query's parameters and, on a POST, the form's (VoiceXML submits either way); 404 while VoiceXML is off."""
    if not settings.voice_vxml_key:
        raise VoiceHttpOff()
    fields = dict(request.query_params.items())
    if request.method == "POST":
        form = await request.form()
        fields |= {name: value for name, value in form.items() if isinstance(value, str)}
    return fields


Fields = Annotated[dict[str, str], Depends(vxml_fields)]


@router.api_route("/voice/vxml/start", methods=["GET", "POST"], include_in_schema=False)
async def vxml_start(fields: Fields, db: Db, settings: Config, menu: Dialogue) -> Response:
    """The URL the platform fetches when a call arrives: /voice/vxml/start?key=…, with the call's numbers as
    `caller` and `called` (and the platform's `call_id` if it has one) in the query or the posted form. Without
    them, a document that reads them from the session and submits them here."""
    entry_key = settings.voice_vxml_key or ""
    if not hmac.compare_digest(fields.get("key", "").encode(), entry_key.encode()):
        raise TokenInvalid()
    if "called" not in fields:
        return _vxml(vxml.bootstrap(f"{settings.base_url}/voice/vxml/start?key={quote(entry_key)}"))
    call_id = fields.get("call_id") or f"vxml-{new_id()}"
    if not re.fullmatch(CALL_ID_PATTERN, call_id) or len(fields["called"]) > 64 or len(fields.get("caller", "")) > 64:
        raise InvalidInput("call_id, caller or called is malformed.")
    call = flow.Call(call_id=call_id, caller=caller_number(fields.get("caller"), settings.default_region),
                     called=fields["called"], transport=flow.HTTP)
    key = exchange.digest({"caller": fields.get("caller"), "called": fields["called"]}, settings.key("voice_turns"))
    number, turn = await run_in_threadpool(exchange.start, db, menu, call, key)
    return _vxml(_document(call_id, number, turn, settings))


@router.api_route("/voice/vxml/next", methods=["GET", "POST"], include_in_schema=False)
async def vxml_next(fields: Fields, db: Db, settings: Config, menu: Dialogue) -> Response:
    """What the caller did in the turn the token names (`event` = digits | silence | hangup, with `digits`): the
    next turn's document."""
    try:
        step = vxml.read_token(settings.verifying_keys("voice_vxml"), fields.get("token", ""), int(time.time()))
    except vxml.BadToken as exc:
        raise TokenInvalid() from exc
    try:
        body = EventIn(turn=step.turn, event=fields.get("event", ""), digits=fields.get("digits", ""))  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput("event or digits is malformed.") from exc
    key = exchange.digest({"event": body.event, "digits": body.digits}, settings.key("voice_turns"))
    number, turn = await run_in_threadpool(exchange.follow, db, menu, step.call_id, step.turn, _event(body), key)
    return _vxml(_document(step.call_id, number, turn, settings))


def _document(call_id: str, number: int, turn: flow.Turn, settings: Settings) -> bytes:
    step = vxml.Step(call_id, number, int(time.time()) + vxml.TOKEN_SECONDS)
    next_url = f"{settings.base_url}/voice/vxml/next?token={vxml.token(settings.key('voice_vxml'), step)}"
    pieces = [vxml.Piece(p.language, prompt_url(p, settings), prompt_text(p)) for p in turn.prompts]
    return vxml.document(pieces, turn.then, next_url)


def _vxml(document: bytes) -> Response:
    return Response(document, media_type=VXML_TYPE)

