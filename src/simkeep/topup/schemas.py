from datetime import datetime

from pydantic import BaseModel, Field, StrictStr

from simkeep.line.schemas import MoneyOut, RequestBody


class TopUpCreate(RequestBody):
    msisdn: StrictStr = Field(max_length=32, examples=["+33612345678"])
    offer_id: StrictStr = Field(max_length=80, examples=["fr-orange-mobicarte-10"])
    channel: StrictStr = Field("api", max_length=16, examples=["portal"])


class TopUpOut(BaseModel):
    id: str
    status: str
    msisdn: str
    offer_id: str
    channel: str
    amount: MoneyOut
    bonus: MoneyOut
    validity_ends_at: datetime
    created_at: datetime
