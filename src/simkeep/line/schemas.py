import re
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from simkeep.core.money import Money
from simkeep.network.schemas import NetworkOut

# C0/C1 controls (PostgreSQL text refuses NUL) and lone surrogates (no database can encode them).
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class RequestBody(BaseModel):
    """A JSON request body: unknown fields and unstorable characters are refused before any service runs."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable(cls, value):
        if isinstance(value, str) and _UNSTORABLE.search(value):
            raise ValueError("must not contain control characters")
        return value


class LineCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    operator_id: StrictStr = Field(max_length=64, examples=["fr-orange-mobicarte"])
    language: StrictStr = Field(
        "en", max_length=35, examples=["zh-CN", "fr", "en-GB"],
        description="The subscriber's language for messages, as a BCP 47 tag in any case: `zh-CN`, `zh-Hans`, "
                    "`zh` (and `zh-TW`, `zh-HK`, `zh-Hant`: Simplified Chinese is the only Chinese we write), "
                    "`fr`, `fr-FR`, `fr-CA`, `en`, `en-GB`...; `zh_CN` is still read. Stored and answered as one "
                    "canonical tag: `zh-CN`, `fr` or `en`. Another language: 422 `unsupported_language`.")
    email: StrictStr | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class MoneyOut(BaseModel):
    amount_minor: int
    currency: str

    @classmethod
    def of(cls, money: Money) -> Self:
        return cls(amount_minor=money.minor, currency=money.currency)


class LineOut(BaseModel):
    id: str
    msisdn: str
    operator_id: str
    state: str
    balance: MoneyOut
    credit: MoneyOut
    bonus: MoneyOut
    validity_ends_at: datetime
    number_loss_at: datetime
    available_at: datetime
    language: Literal["zh-CN", "fr", "en"] = Field(
        description="The subscriber's language, always one canonical BCP 47 tag: `zh-CN`, `fr` or `en`.")
    network: NetworkOut | None = Field(
        default=None, description="The line's network state (desired and confirmed); null for a line without a SIM.")


class SimAssign(RequestBody):
    iccid: StrictStr = Field(max_length=32, examples=["8933010000000000017"],
                             description="a card in stock, of the line's operator")
    reason: StrictStr = Field(min_length=1, max_length=500, description="kept in the audit log")


class SimSwap(SimAssign):
    lost: bool = Field(False, description="the old card was lost or stolen (it becomes `lost`, else `retired`)")


class SimLost(RequestBody):
    reason: StrictStr = Field(min_length=1, max_length=500, description="kept in the audit log")
