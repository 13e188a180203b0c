from datetime import datetime

from pydantic import BaseModel, Field, StrictInt, StrictStr

from simkeep.line.schemas import MoneyOut, RequestBody


class ChargeCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    # The range is the service's own check (422 invalid_amount, not a generic validation error); documented here.
    amount_minor: StrictInt = Field(examples=[19], json_schema_extra={"minimum": 1, "maximum": 10_000_000})
    kind: StrictStr = Field(max_length=8, examples=["sms"])


class ChargeOut(BaseModel):
    id: str
    msisdn: str
    kind: str
    amount: MoneyOut
    bonus_used: MoneyOut
    created_at: datetime
