"""The voice menu's JSON webhook protocol: what an IVR platform posts, and the turn simkeep answers."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from simkeep.line.schemas import RequestBody

CALL_ID_PATTERN = r"^[!-~]{1,128}$"  # printable ASCII, no spaces: a SIP Call-ID or the platform's own call reference


class CallIn(RequestBody):
    call_id: StrictStr = Field(pattern=CALL_ID_PATTERN, examples=["CA5f2c9e1b"],
                               description="the platform's reference for the call, the same in every event")
    caller: StrictStr | None = Field(max_length=64, examples=["+33612345678"], description=(
        "the calling number as the network asserts it (P-Asserted-Identity, else From): E.164, or a `sip:`/`tel:` "
        "URI; null or anything that is not a number when withheld. A known line is recognised from it."))
    called: StrictStr = Field(max_length=64, examples=["+33170000000"], description="the hotline number dialled")


class EventIn(RequestBody):
    turn: StrictInt = Field(ge=1, le=100_000, examples=[1], description="the turn during which this happened")
    event: Literal["digits", "silence", "hangup"] = Field(examples=["digits"], description=(
        "`digits`: the gathering ended with keys (or with only the finishing key: empty digits); `silence`: it timed "
        "out (digits typed before, if any); `hangup`: the caller hung up or the call was lost"))
    digits: StrictStr = Field("", pattern=r"^[0-9*]{0,32}$", examples=["3"],
                              description="the keys gathered, without the finishing key")


class SayOut(BaseModel):
    prompt: str = Field(examples=["fr/n12"], description="`language/name` of one recorded piece")
    audio_url: str = Field(examples=["https://simkeep.example/voice/prompts/fr/n12.wav"],
                           description="8 kHz mono WAV; play in order")
    text: str = Field(examples=["douze"], description="what the piece says, for a platform's text-to-speech instead")


class GatherOut(BaseModel):
    max_digits: int = Field(examples=[1], description="stop gathering after this many keys")
    finish_on_key: str = Field(examples=["#"], description="this key ends the gathering and is not part of the digits")
    timeout_seconds: float = Field(examples=[6.0], description="before the first key and between two keys")


class TransferOut(BaseModel):
    uri: str = Field(examples=["sip:agent@pbx.example"], description="a blind transfer once the prompts have played")


class HangupOut(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThenGather(BaseModel):
    gather: GatherOut


class ThenTransfer(BaseModel):
    transfer: TransferOut


class ThenHangup(BaseModel):
    hangup: HangupOut


class TurnOut(BaseModel):
    """Play `say` in order (a key pressed during it stops it and starts gathering), then do `then`. For `gather`,
    post what came back as an event with this `turn`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "call_id": "CA5f2c9e1b", "turn": 2,
        "say": [{"prompt": "fr/n12", "audio_url": "https://simkeep.example/voice/prompts/fr/n12.wav", "text": "douze"},
                {"prompt": "fr/EUR.major_many", "audio_url": "https://simkeep.example/voice/prompts/fr/EUR.major_many.wav",
                 "text": "euros"}],
        "then": {"gather": {"max_digits": 1, "finish_on_key": "#", "timeout_seconds": 6.0}}}]})

    call_id: str
    turn: int = Field(description="the number to put in the next event")
    say: list[SayOut]
    then: ThenGather | ThenTransfer | ThenHangup
