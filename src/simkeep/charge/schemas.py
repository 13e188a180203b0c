from datetime import datetime

from pydantic import BaseModel, Field, StrictInt, StrictStr

from simkeep.line.schemas import MoneyOut, RequestBody


class ChargeCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    amount_minor: StrictInt = Field(examples=[19])
    kind: StrictStr = Field(max_length=8, examples=["sms"])


class ChargeOut(BaseModel):
    id: str
    msisdn: str
    kind: str
    amount: MoneyOut
    bonus_used: MoneyOut
    created_at: datetime
